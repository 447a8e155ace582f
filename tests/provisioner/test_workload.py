"""Workload templates: a kind's own template or the shared one, and every value a
tenant supplies comes out as data (never YAML structure, never template code)."""

from __future__ import annotations

import json

import pytest
from jinja2.exceptions import SecurityError

from provisioner.desired import desired_objects
from provisioner.kinds import TEMPLATES_DIR, kinds
from provisioner.workload import WorkloadError, _env, template_path, workload_render

from .helpers import bot_spec

HOSTILE = [
    "x\n  kind: ClusterRole",
    "x\nkind: ClusterRole\nmetadata: {name: admin}",
    "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding",
    '" , "kind": "ClusterRole',
    'it\'s "quoted" \\ back',
    "{{ 7 * 7 }}",
    "{% raw %}{{ lipsum.__globals__ }}{% endraw %}",
    "!!python/object/apply:os.system ['id']",
    "\u2028line\u2029separators\x85",
    "&anchor *alias",
]


def _shape(objects):
    return [(obj["kind"], obj["metadata"]["name"]) for obj in objects]


@pytest.mark.parametrize("kind", sorted(kinds()))
def test_each_kind_has_its_own_deployment_extending_the_shared_one(kind):
    assert template_path(kind, "deployment.yaml.j2") == f"{kind}/workload/deployment.yaml.j2"
    source = (TEMPLATES_DIR / kind / "workload" / "deployment.yaml.j2").read_text()
    assert '{% extends "_workload/deployment.yaml.j2" %}' in source
    assert template_path(kind, "secret.yaml.j2") == "_workload/secret.yaml.j2"


def test_kinds_differ_in_resources():
    def resources(kind):
        (deployment,) = [
            o for o in desired_objects(bot_spec(kind=kind), image="i") if o["kind"] == "Deployment"
        ]
        return deployment["spec"]["template"]["spec"]["containers"][0]["resources"]

    assert resources("white_label")["limits"]["memory"] == "512Mi"
    assert resources("moderation")["limits"]["memory"] == "192Mi"
    assert resources("white_label") != resources("moderation")


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_come_out_as_data(value):
    plain = desired_objects(bot_spec(), image="img")
    spec = bot_spec(parameters={"group_name": value, value: [value]}, token=value)
    objects = desired_objects(spec, image="img")
    assert _shape(objects) == _shape(plain)  # no object added, none renamed
    by_kind = {obj["kind"]: obj for obj in objects}
    assert json.loads(by_kind["ConfigMap"]["data"]["config.json"]) == spec.config()
    assert by_kind["Secret"]["stringData"] == {"BOT_TOKEN": value}
    assert set(by_kind["ConfigMap"]) == {"apiVersion", "kind", "metadata", "data"}
    assert "ClusterRole" not in {obj["kind"] for obj in objects}


def test_a_value_printed_without_tojson_is_refused():
    template = _env().from_string("name: {{ name }}\n")
    with pytest.raises(WorkloadError, match=r"without \| tojson"):
        template.render(name="x\n  kind: ClusterRole")
    assert _env().from_string("name: {{ name | tojson }}\n").render(name="a") == 'name: "a"\n'


def test_templates_cannot_reach_python_internals():
    template = _env().from_string("x: {{ ''.__class__.__mro__ | tojson }}")
    with pytest.raises(SecurityError, match=r"attribute '__class__' of 'str' object is unsafe"):
        template.render()


def test_a_missing_value_is_an_error_not_an_empty_field():
    with pytest.raises(WorkloadError, match=r"has no attribute 'secret'"):
        workload_render(kind="moderation", name="secret.yaml.j2", context={"names": {}})


def test_an_unknown_template_is_an_error():
    with pytest.raises(WorkloadError, match="no workload template"):
        workload_render(kind="moderation", name="nothing.yaml.j2", context={})


def test_an_undefined_top_level_value_is_an_error():
    with pytest.raises(WorkloadError, match="'names' is undefined"):
        workload_render(kind="moderation", name="configmap.yaml.j2", context={})
