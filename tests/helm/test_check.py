"""helm/check.py finds what it is there to find: a field Kubernetes does not know, a
monitoring object missing its required parts, an unconfined or unsized container, a
missing label, a wildcard grant, a template that does not render; on a copy of the chart
broken on purpose, or on one object."""

from __future__ import annotations

import copy
import shutil

import pytest

from helm.check import (
    CHART,
    chart_lint,
    check,
    container_problems,
    label_problems,
    manifest_problems,
    rbac_problems,
)


@pytest.fixture(scope="module")
def objects():
    renderings, problems = check()
    assert problems == []
    everything = next(r for r in renderings if r.name != "default values")
    return everything


@pytest.fixture
def web(objects):
    return copy.deepcopy(objects.named("Deployment", "bragabot-web"))


def _container(deployment):
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_a_valid_object_has_no_problem(web):
    assert manifest_problems(web) == []
    assert container_problems(web) == [] and label_problems(web) == []


def test_strict_validation_refuses_an_unknown_field(web):
    _container(web)["securityContext"]["runAsNonroot"] = True  # a typo
    problems = manifest_problems(web)
    assert len(problems) == 1
    assert "runAsNonroot" in problems[0]


def test_validation_refuses_a_wrong_type(web):
    web["spec"]["replicas"] = "two"
    assert "spec/replicas" in manifest_problems(web)[0]


def test_a_kind_without_a_schema_is_a_problem():
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert "Couldn't find schema" in manifest_problems(obj)[0]


def test_the_monitoring_kinds_are_checked_against_their_structure(objects):
    monitor = copy.deepcopy(objects.of_kind("ServiceMonitor")[0])
    del monitor["spec"]["endpoints"]
    assert "'endpoints' is a required property" in manifest_problems(monitor)[0]
    rule = copy.deepcopy(objects.of_kind("PrometheusRule")[0])
    rule["spec"]["groups"][0]["rules"][0]["expresion"] = "up == 0"
    assert manifest_problems(rule) != []


@pytest.mark.parametrize(
    ("breaks", "found"),
    [
        (lambda c: c["securityContext"].pop("runAsNonRoot"), None),
        (
            lambda c: c["securityContext"].update(allowPrivilegeEscalation=True),
            "allowPrivilegeEscalation",
        ),
        (
            lambda c: c["securityContext"].update(readOnlyRootFilesystem=False),
            "readOnlyRootFilesystem",
        ),
        (lambda c: c["securityContext"].update(capabilities={"drop": ["NET_RAW"]}), "drop ALL"),
        (lambda c: c["securityContext"]["capabilities"].update(add=["NET_ADMIN"]), "added"),
        (lambda c: c["securityContext"].pop("seccompProfile"), None),
        (lambda c: c["resources"]["limits"].pop("memory"), "memory in resources.limits"),
        (lambda c: c["resources"].pop("requests"), "resources.requests"),
        (lambda c: c.update(volumeMounts=[]), "/tmp"),
    ],
)
def test_an_unconfined_or_unsized_container_is_named(web, breaks, found):
    breaks(_container(web))
    problems = container_problems(web)
    if found is None:
        # The pod-level setting still covers it: the container inherits it.
        assert problems == []
    else:
        assert len(problems) >= 1 and all(p.startswith("container web:") for p in problems)
        assert any(found in p for p in problems), problems


def test_a_setting_missing_from_both_pod_and_container_is_named(web):
    _container(web)["securityContext"].pop("runAsNonRoot")
    web["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot")
    assert container_problems(web) == ["container web: runAsNonRoot is not true"]


def test_a_missing_label_is_named(web):
    del web["metadata"]["labels"]["app.kubernetes.io/version"]
    del web["metadata"]["labels"]["app.kubernetes.io/component"]
    assert label_problems(web) == [
        "no label app.kubernetes.io/version",
        "no label app.kubernetes.io/component",
    ]


@pytest.mark.parametrize("key", ["apiGroups", "resources", "verbs"])
def test_a_wildcard_grant_is_named(objects, key):
    role = copy.deepcopy(objects.of_kind("ClusterRole")[0])
    assert rbac_problems(role) == []
    role["rules"][1][key] = ["*"]
    assert rbac_problems(role) == [f"rule 1: a wildcard in {key}"]


def test_a_broken_chart_fails_the_check(tmp_path):
    chart = tmp_path / "bragabot"
    shutil.copytree(CHART, chart)
    service = chart / "templates" / "service.yaml"
    service.write_text(service.read_text().replace("  type: {{", "  kind: {{"))
    _, problems = check(chart)
    assert problems
    assert all("service.yaml: Service/bragabot-web: schema:" in p for p in problems)
    assert {p.split(":")[0] for p in problems} == {"default values", "everything-on-values.yaml"}


def test_a_template_that_does_not_render_is_named(tmp_path):
    chart = tmp_path / "bragabot"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "pdb.yaml").write_text("{{ if }}\n")
    renderings, problems = check(chart)
    assert renderings == []
    assert any("render:" in p and "pdb.yaml" in p for p in problems)


def test_an_api_removed_in_the_pinned_version_is_refused(tmp_path):
    chart = tmp_path / "bragabot"
    shutil.copytree(CHART, chart)
    pdb = chart / "templates" / "pdb.yaml"
    pdb.write_text(pdb.read_text().replace("policy/v1", "policy/v1beta1"))
    problems = chart_lint({}, chart)
    assert any("policy/v1beta1 PodDisruptionBudget is deprecated" in p for p in problems)
    _, problems = check(chart)
    assert any("Couldn't find schema for kind PodDisruptionBudget" in p for p in problems)
