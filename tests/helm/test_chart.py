"""The chart as rendered by ``make helm-check`` (helm/check.py): it passes lint and strict
validation for the pinned Kubernetes version with the defaults and with every switch on,
and what it renders keeps its promises: one Deployment per service, shards told their
index, the migrations as a hook that finds its settings, the provisioner's rights and
nothing more, every container confined, bad values refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import helm_python as helm
import pytest
import yaml

from helm.check import CHART, KUBE_VERSION, NAMESPACE, Rendering, check, containers
from tests.helm.helpers import entry_point_problems

ROOT = Path(__file__).resolve().parents[2]
FULLNAME = "bragabot"  # the release is named after the chart
SERVICES = {"web", "jobs", "dispatch", "xfeed"}
EVERYTHING_ON = "everything-on-values.yaml"
PROVISIONER_VERBS = {"get", "list", "watch", "create", "patch", "delete"}
PROVISIONER_RULES = {
    ("", "namespaces"),
    ("", "secrets"),
    ("", "configmaps"),
    ("", "services"),
    ("", "resourcequotas"),
    ("", "limitranges"),
    ("apps", "deployments"),
    ("networking.k8s.io", "networkpolicies"),
    ("networking.k8s.io", "ingresses"),
}


@pytest.fixture(scope="module")
def checked() -> tuple[dict[str, Rendering], list[str]]:
    renderings, problems = check()
    return {r.name: r for r in renderings}, problems


@pytest.fixture(scope="module")
def renderings(checked) -> dict[str, Rendering]:
    return checked[0]


def _values(name: str) -> dict:
    return yaml.safe_load((CHART / "ci" / name).read_text())


def test_make_helm_check_passes():
    result = subprocess.run(
        [sys.executable, "-m", "helm.check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"passes lint and Kubernetes {KUBE_VERSION} (strict)" in result.stdout
    assert "default values:" in result.stdout and f"{EVERYTHING_ON}:" in result.stdout


def test_both_values_sets_render_valid_manifests(checked):
    renderings, problems = checked
    assert problems == []
    assert set(renderings) == {"default values", EVERYTHING_ON}


def test_one_deployment_per_service(renderings):
    for rendering in renderings.values():
        deployments = rendering.of_kind("Deployment")
        names = sorted(d["metadata"]["name"] for d in deployments)
        assert names == sorted(f"{FULLNAME}-{service}" for service in SERVICES)
        for deployment in deployments:
            component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
            selector = deployment["spec"]["selector"]["matchLabels"]
            # Each selects its own pods only: the component is part of the selector.
            assert selector["app.kubernetes.io/component"] == component
            assert deployment["spec"]["template"]["metadata"]["labels"].items() >= selector.items()


def test_every_deployment_scales_on_its_own_when_asked(renderings):
    default, everything = renderings["default values"], renderings[EVERYTHING_ON]
    assert default.of_kind("HorizontalPodAutoscaler") == []
    assert all("replicas" in d["spec"] for d in default.of_kind("Deployment"))
    targets = {
        h["spec"]["scaleTargetRef"]["name"] for h in everything.of_kind("HorizontalPodAutoscaler")
    }
    assert targets == {f"{FULLNAME}-{service}" for service in SERVICES}
    # With an autoscaler, the Deployment leaves the count to it (an upgrade would reset it).
    assert all("replicas" not in d["spec"] for d in everything.of_kind("Deployment"))


def test_the_web_is_served_probed_and_protected(renderings):
    for rendering in renderings.values():
        web = rendering.named("Deployment", f"{FULLNAME}-web")
        (container,) = web["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        service = rendering.named("Service", f"{FULLNAME}-web")
        assert service["spec"]["selector"] == web["spec"]["selector"]["matchLabels"]
        assert [p["name"] for p in container["ports"]] == [
            service["spec"]["ports"][0]["targetPort"]
        ]
        budget = rendering.named("PodDisruptionBudget", f"{FULLNAME}-web")
        assert budget["spec"]["selector"] == web["spec"]["selector"]
    (ingress,) = renderings[EVERYTHING_ON].of_kind("Ingress")
    backends = {
        path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {f"{FULLNAME}-web"}


def test_the_shards_are_a_statefulset_passing_its_index_and_count(renderings):
    for name, rendering in renderings.items():
        count = _values(name)["botShards"]["count"] if name == EVERYTHING_ON else 2
        (shards,) = rendering.of_kind("StatefulSet")
        assert shards["spec"]["replicas"] == count
        (container,) = shards["spec"]["template"]["spec"]["containers"]
        command = container["command"]
        assert command == [
            "python",
            "manage.py",
            "runbots",
            "--shard",
            f"$(SHARD_INDEX)/{count}",
            "--serve",
            "updates",
        ]
        # The kubelet expands $(SHARD_INDEX) from the pod's index label.
        index = next(e for e in container["env"] if e["name"] == "SHARD_INDEX")
        assert index["valueFrom"]["fieldRef"]["fieldPath"] == (
            "metadata.labels['apps.kubernetes.io/pod-index']"
        )
    # No autoscaler ever changes N under the shards' feet.
    kinds = {
        h["spec"]["scaleTargetRef"]["kind"]
        for r in renderings.values()
        for h in r.of_kind("HorizontalPodAutoscaler")
    }
    assert kinds == {"Deployment"}


def test_the_migrations_run_as_a_hook_before_install_and_upgrade(renderings):
    for rendering in renderings.values():
        (job,) = rendering.of_kind("Job")
        annotations = job["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["command"][:3] == ["python", "manage.py", "setup"]
        # Hooks run before the release's own objects exist: everything the Job reads is
        # a hook made before it (lower weight), or the operator's own Secret.
        earlier_hooks = {
            (obj["kind"], obj["metadata"]["name"])
            for _, obj in rendering.objects
            if "helm.sh/hook" in obj["metadata"].get("annotations", {})
            and int(obj["metadata"]["annotations"]["helm.sh/hook-weight"])
            < int(annotations["helm.sh/hook-weight"])
        }
        read = [
            ("ConfigMap", s["configMapRef"]["name"])
            for s in container["envFrom"]
            if "configMapRef" in s
        ]
        read += [
            ("Secret", s["secretRef"]["name"]) for s in container["envFrom"] if "secretRef" in s
        ]
        read += [
            ("Secret", e["valueFrom"]["secretKeyRef"]["name"])
            for e in container["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
        ]
        assert read
        for kind, name in read:
            assert (kind, name) in earlier_hooks or name == "bragabot-env", (kind, name)


def test_every_setting_a_pod_reads_is_rendered_or_the_operators(renderings):
    for rendering in renderings.values():
        rendered = {(obj["kind"], obj["metadata"]["name"]) for _, obj in rendering.objects}
        for kind in ("Deployment", "StatefulSet"):
            for workload in rendering.of_kind(kind):
                for container in containers(workload):
                    for source in container["envFrom"]:
                        if "configMapRef" in source:
                            assert ("ConfigMap", source["configMapRef"]["name"]) in rendered
                        else:
                            name = source["secretRef"]["name"]
                            assert ("Secret", name) in rendered or name == "bragabot-env"


def test_the_configmap_says_production(renderings):
    for rendering in renderings.values():
        config = rendering.named("ConfigMap", FULLNAME)
        assert config["data"]["BRAGABOT_ENV"] == "production"
        assert all(isinstance(value, str) for value in config["data"].values())


def test_the_provisioner_deploys_bots_with_this_release_image_and_secret(renderings):
    for rendering in renderings.values():
        config = rendering.named("ConfigMap", FULLNAME)["data"]
        web = rendering.named("Deployment", f"{FULLNAME}-web")
        (container,) = web["spec"]["template"]["spec"]["containers"]
        assert config["PROVISIONER_IMAGE"] == container["image"]
        secrets = [s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s]
        assert [config["PROVISIONER_PLATFORM_SECRET"]] == secrets


def test_the_provisioner_role_grants_its_kinds_and_nothing_else(renderings):
    for rendering in renderings.values():
        (role,) = rendering.of_kind("ClusterRole")
        granted = set()
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    assert "*" not in group + resource and "*" not in rule["verbs"]
                    if resource == "deployments/status":
                        assert rule["verbs"] == ["get"]
                        continue
                    assert set(rule["verbs"]) == PROVISIONER_VERBS, (group, resource)
                    granted.add((group, resource))
        assert granted == PROVISIONER_RULES
        assert not rendering.of_kind("Role") and not rendering.of_kind("RoleBinding")
        (binding,) = rendering.of_kind("ClusterRoleBinding")
        assert binding["roleRef"]["name"] == role["metadata"]["name"]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": f"{FULLNAME}-provisioner", "namespace": NAMESPACE}
        ]


def test_only_the_provisioners_pods_hold_an_api_token(renderings):
    for rendering in renderings.values():
        accounts = {sa["metadata"]["name"]: sa for sa in rendering.of_kind("ServiceAccount")}
        assert accounts[FULLNAME]["automountServiceAccountToken"] is False
        for kind in ("Deployment", "StatefulSet", "Job"):
            for workload in rendering.of_kind(kind):
                spec = workload["spec"]["template"]["spec"]
                component = workload["metadata"]["labels"]["app.kubernetes.io/component"]
                if component in {"web", "jobs"}:
                    assert spec["serviceAccountName"] == f"{FULLNAME}-provisioner"
                    assert spec["automountServiceAccountToken"] is True
                else:
                    assert spec["automountServiceAccountToken"] is False, component
                    assert spec.get("serviceAccountName", "default") != f"{FULLNAME}-provisioner"


def test_every_container_is_confined_and_sized(renderings):
    count = 0
    for rendering in renderings.values():
        for kind in ("Deployment", "StatefulSet", "Job"):
            for workload in rendering.of_kind(kind):
                pod = workload["spec"]["template"]["spec"]
                assert pod["securityContext"]["runAsNonRoot"] is True
                for container in containers(workload):
                    security = container["securityContext"]
                    assert security["runAsNonRoot"] is True
                    assert security["allowPrivilegeEscalation"] is False
                    assert security["readOnlyRootFilesystem"] is True
                    assert security["capabilities"] == {"drop": ["ALL"]}
                    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
                    assert {"requests", "limits"} <= container["resources"].keys()
                    count += 1
    assert count == 2 * 6  # four Deployments, the shards, the migrations Job


def test_every_container_command_is_a_real_entry_point(renderings):
    """Depends on runbots' --shard and --serve (the runtime shards' work)."""
    commands = {
        tuple(container["command"])
        for rendering in renderings.values()
        for kind in ("Deployment", "StatefulSet", "Job")
        for workload in rendering.of_kind(kind)
        for container in containers(workload)
    }
    assert len(commands) >= 6
    problems = [p for command in sorted(commands) for p in entry_point_problems(list(command))]
    assert problems == []


def test_monitoring_renders_only_when_switched_on(renderings):
    kinds = ("ServiceMonitor", "PrometheusRule")
    default = renderings["default values"]
    assert all(default.of_kind(kind) == [] for kind in kinds)
    assert f"{FULLNAME}-dashboard" not in {
        c["metadata"]["name"] for c in default.of_kind("ConfigMap")
    }
    everything = renderings[EVERYTHING_ON]
    (monitor,) = everything.of_kind("ServiceMonitor")
    web = everything.named("Service", f"{FULLNAME}-web")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= web["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in web["spec"]["ports"]}
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    (rule,) = everything.of_kind("PrometheusRule")
    assert rule["spec"]["groups"][0]["rules"][0]["alert"] == "BragabotWebDown"
    dashboard = everything.named("ConfigMap", f"{FULLNAME}-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = yaml.safe_load(dashboard["data"]["bragabot.json"])
    # Both watch the web Deployment the chart made, by its rendered name.
    watched = f'deployment="{FULLNAME}-web"'
    assert watched in board["panels"][0]["targets"][0]["expr"]
    assert watched in rule["spec"]["groups"][0]["rules"][0]["expr"]


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"botShards": {"count": 0}}, "/botShards/count"),
        ({"env": {"JOB_WORKERS": 4}}, "/env/JOB_WORKERS"),
        ({"web": {"replicas": -1}}, "/web/replicas"),
        ({"xfeed": {"replicas": 2}}, "/xfeed/replicas"),
        ({"image": {"digest": "latest"}}, "/image/digest"),
        ({"database": {"url": "mysql://db/bragabot"}}, "/database/url"),
        ({"podSecurityContext": {"runAsNonRoot": False}}, "/podSecurityContext/runAsNonRoot"),
        ({"secrets": {"create": True, "values": {"SECRET_KEY": "x" * 40}}}, "FIELD_ENCRYPTION_KEY"),
        (
            {
                "secrets": {
                    "create": True,
                    "values": {"SECRET_KEY": "x" * 40, "FIELD_ENCRYPTION_KEY": "short"},
                }
            },
            "/secrets/values/FIELD_ENCRYPTION_KEY",
        ),
        ({"secrets": {"existingSecret": ""}}, "/secrets/existingSecret"),
        # null removes a default: every container keeps its memory limit.
        ({"web": {"resources": {"limits": {"memory": None}}}}, "memory"),
        ({"replicaCount": 3}, "replicaCount"),
    ],
)
def test_the_values_schema_refuses_a_bad_value(values, named):
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError) as refused:
        chart.render(values, name=FULLNAME, namespace=NAMESPACE)
    assert named in str(refused.value)
