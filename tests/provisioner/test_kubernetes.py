"""The Kubernetes backend against the API double (kmock): the exact requests of apply,
re-apply, prune, pause and remove, and the rollout read back."""

from __future__ import annotations

import pytest
from kubernetes.client import CoreV1Api, V1ObjectMeta, V1Secret

from provisioner.desired import ClusterSettings
from provisioner.kubernetes import (
    DIGEST_ANNOTATION,
    FIELD_MANAGER,
    KubernetesBackend,
    KubernetesBackendError,
    digest,
)
from provisioner.spec import Placement, Status

from .helpers import bot_spec

NS = "/api/v1/namespaces/bragabot-acme"
APPS = "/apis/apps/v1/namespaces/bragabot-acme"
NET = "/apis/networking.k8s.io/v1/namespaces/bragabot-acme"
BOT_READS = [
    ("GET", f"{NS}/secrets"),
    ("GET", f"{NS}/configmaps"),
    ("GET", f"{NET}/networkpolicies"),
    ("GET", f"{NS}/services"),
    ("GET", f"{NET}/ingresses"),
    ("GET", f"{APPS}/deployments"),
]
TENANT_READS = [
    ("GET", NS),
    ("GET", f"{NS}/resourcequotas"),
    ("GET", f"{NS}/limitranges"),
]
WEBHOOK = "https://bots.example.com"


@pytest.fixture
def kube(kube_api):
    double, client = kube_api
    return double, KubernetesBackend(client, image="ghcr.io/acme/bragabot:1")


def _since(double, mark):
    return double.calls()[mark:]


def _requests_since(double, mark):
    return list(double)[mark:]


def test_first_apply_creates_everything_by_server_side_apply(kube):
    double, backend = kube
    spec = bot_spec(bot_id=42, webhook_url=WEBHOOK)
    rollout = backend.apply(spec)
    assert rollout.status == Status.DEPLOYING and rollout.writes == 9
    # The live state is read by lists (the namespace does not exist yet: no quota reads).
    assert double.calls() == [
        *BOT_READS,
        ("GET", NS),
        ("PATCH", NS),
        ("PATCH", f"{NS}/resourcequotas/tenant-quota"),
        ("PATCH", f"{NS}/limitranges/tenant-limits"),
        ("PATCH", f"{NS}/secrets/bot-42-token"),
        ("PATCH", f"{NS}/configmaps/bot-42-config"),
        ("PATCH", f"{NET}/networkpolicies/bot-42"),
        ("PATCH", f"{NS}/services/bot-42"),
        ("PATCH", f"{NET}/ingresses/bot-42"),
        ("PATCH", f"{APPS}/deployments/bot-42"),
    ]
    lists = [r for r in double if r.method.value == "GET" and r.url.path != NS]
    assert {r.params["labelSelector"] for r in lists} == {"bragabot.io/bot=42"}
    for request in [r for r in double if r.method.value == "PATCH"]:
        assert request.headers["Content-Type"] == "application/apply-patch+yaml"
        assert request.params == {"fieldManager": FIELD_MANAGER, "force": "true"}
        annotations = request.data["metadata"]["annotations"]
        body = dict(request.data)
        metadata = dict(body["metadata"])
        own = {k: v for k, v in annotations.items() if k != DIGEST_ANNOTATION}
        metadata["annotations"] = own
        if not own:
            del metadata["annotations"]
        assert annotations[DIGEST_ANNOTATION] == digest({**body, "metadata": metadata})
    deployment = double.live("deployments", "bragabot-acme", "bot-42")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "ghcr.io/acme/bragabot:1"
    )
    assert double.live("secrets", "bragabot-acme", "bot-42-token")["stringData"] == {
        "BOT_TOKEN": spec.token
    }


def test_a_second_apply_with_no_change_writes_nothing(kube):
    double, backend = kube
    spec = bot_spec(bot_id=42, webhook_url=WEBHOOK)
    backend.apply(spec)
    mark = len(double.calls())
    rollout = backend.apply(spec)
    assert rollout.writes == 0
    assert _since(double, mark) == BOT_READS + TENANT_READS  # reads only, one per kind
    assert len(double.writes()) == 9  # the first apply's, nothing since


def test_a_parameter_change_rewrites_only_the_config_and_the_deployment(kube):
    double, backend = kube
    backend.apply(bot_spec(bot_id=42))
    mark = len(double.calls())
    changed = bot_spec(bot_id=42, parameters={"group_name": "Acme chat (new)"})
    rollout = backend.apply(changed)
    assert [c for c in _since(double, mark) if c[0] != "GET"] == [
        ("PATCH", f"{NS}/configmaps/bot-42-config"),
        ("PATCH", f"{APPS}/deployments/bot-42"),  # its pods roll: the config digest changed
    ]
    assert rollout.writes == 2
    pod = double.live("deployments", "bragabot-acme", "bot-42")["spec"]["template"]
    assert pod["metadata"]["annotations"]["bragabot.io/config-sha256"] == changed.config_sha256()


def test_webhook_to_polling_prunes_the_service_and_ingress(kube):
    double, backend = kube
    backend.apply(bot_spec(bot_id=42, webhook_url=WEBHOOK))
    mark = len(double.calls())
    rollout = backend.apply(bot_spec(bot_id=42))
    assert [c for c in _since(double, mark) if c[0] != "GET"] == [
        ("PATCH", f"{NET}/networkpolicies/bot-42"),  # no ingress allowed any more
        ("PATCH", f"{APPS}/deployments/bot-42"),  # no --webhook
        ("DELETE", f"{NS}/services/bot-42"),
        ("DELETE", f"{NET}/ingresses/bot-42"),
    ]
    assert rollout.writes == 4
    assert double.live("services", "bragabot-acme", "bot-42") is None
    assert double.live("ingresses", "bragabot-acme", "bot-42") is None
    deletes = [r for r in _requests_since(double, mark) if r.method.value == "DELETE"]
    assert {r.params["propagationPolicy"] for r in deletes} == {"Background"}


def test_moving_to_pooled_prunes_every_object_of_the_bot_and_keeps_the_namespace(kube):
    double, backend = kube
    backend.apply(bot_spec(bot_id=42))
    backend.apply(bot_spec(bot_id=43))
    mark = len(double.calls())
    rollout = backend.apply(bot_spec(bot_id=42, placement=Placement.POOLED))
    assert rollout.status == Status.RUNNING and "pooled" in rollout.reason
    assert [c for c in _since(double, mark) if c[0] != "GET"] == [
        ("DELETE", f"{NS}/secrets/bot-42-token"),
        ("DELETE", f"{NS}/configmaps/bot-42-config"),
        ("DELETE", f"{NET}/networkpolicies/bot-42"),
        ("DELETE", f"{APPS}/deployments/bot-42"),
    ]
    assert double.live("namespaces", None, "bragabot-acme") is not None
    assert double.live("deployments", "bragabot-acme", "bot-43") is not None  # not its


def test_pause_scales_to_zero_and_apply_resumes(kube):
    double, backend = kube
    spec = bot_spec(bot_id=42)
    backend.apply(spec)
    mark = len(double.calls())
    rollout = backend.pause(tenant="acme", bot_id=42)
    assert rollout.status == Status.PAUSED and rollout.writes == 1
    (request,) = _requests_since(double, mark)
    assert (request.method.value, request.url.path) == ("PATCH", f"{APPS}/deployments/bot-42")
    assert request.headers["Content-Type"] == "application/merge-patch+json"
    assert request.data == {"spec": {"replicas": 0}}
    assert double.live("configmaps", "bragabot-acme", "bot-42-config") is not None  # kept
    assert backend.status(tenant="acme", bot_id=42).status == Status.PAUSED
    mark = len(double.calls())
    assert backend.apply(spec).writes == 1  # the digest is unchanged, the replicas are not
    assert [c for c in _since(double, mark) if c[0] != "GET"] == [
        ("PATCH", f"{APPS}/deployments/bot-42")
    ]
    assert double.live("deployments", "bragabot-acme", "bot-42")["spec"]["replicas"] == 1


def test_pause_of_an_unknown_bot_writes_nothing(kube):
    _, backend = kube
    rollout = backend.pause(tenant="acme", bot_id=999)
    assert rollout.status == Status.PENDING and rollout.writes == 0


def test_remove_deletes_the_bots_objects(kube):
    double, backend = kube
    backend.apply(bot_spec(bot_id=42, webhook_url=WEBHOOK))
    mark = len(double.calls())
    rollout = backend.remove(tenant="acme", bot_id=42)
    assert rollout.writes == 6
    assert _since(double, mark) == [
        *BOT_READS,
        ("DELETE", f"{NS}/secrets/bot-42-token"),
        ("DELETE", f"{NS}/configmaps/bot-42-config"),
        ("DELETE", f"{NET}/networkpolicies/bot-42"),
        ("DELETE", f"{NS}/services/bot-42"),
        ("DELETE", f"{NET}/ingresses/bot-42"),
        ("DELETE", f"{APPS}/deployments/bot-42"),
    ]
    assert backend.status(tenant="acme", bot_id=42).status == Status.PENDING
    assert backend.remove(tenant="acme", bot_id=42).writes == 0


def test_status_reads_the_rollout(kube):
    double, backend = kube
    backend.apply(bot_spec(bot_id=42))
    assert backend.status(tenant="acme", bot_id=42) == backend.status(tenant="acme", bot_id=42)
    assert backend.status(tenant="acme", bot_id=42).status == Status.DEPLOYING
    double.status_set(
        "deployments", "bragabot-acme", "bot-42", {"observedGeneration": 1, "availableReplicas": 1}
    )
    assert backend.status(tenant="acme", bot_id=42).status == Status.RUNNING
    # A re-apply with no change reads the same status back, writing nothing.
    rollout = backend.apply(bot_spec(bot_id=42))
    assert (rollout.status, rollout.writes) == (Status.RUNNING, 0)


def test_a_failed_rollout_is_failed_with_its_reason(kube):
    double, backend = kube
    backend.apply(bot_spec(bot_id=42))
    condition = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "bot-42-5d4" has timed out progressing.',
    }
    double.status_set(
        "deployments",
        "bragabot-acme",
        "bot-42",
        {"observedGeneration": 1, "availableReplicas": 0, "conditions": [condition]},
    )
    rollout = backend.status(tenant="acme", bot_id=42)
    assert rollout.status == Status.FAILED
    assert rollout.reason == (
        'ProgressDeadlineExceeded: ReplicaSet "bot-42-5d4" has timed out progressing.'
    )


def test_many_bots_are_read_once_per_tenant_and_kind(kube):
    double, backend = kube
    tenants = (("acme", 0), ("beta", 10))
    specs = [bot_spec(bot_id=n + i, tenant=t) for t, n in tenants for i in (1, 2, 3)]
    rollouts = backend.apply_many(specs)
    assert sum(r.writes for r in rollouts.values()) == 2 * 3 + 6 * 4  # tenant-wide once each
    mark = len(double.calls())
    rollouts = backend.apply_many(specs)
    assert sum(r.writes for r in rollouts.values()) == 0
    reads = _since(double, mark)
    assert len(reads) == 2 * (len(BOT_READS) + len(TENANT_READS))
    assert all(method == "GET" for method, _ in reads)


def test_the_naive_way_sends_every_object_every_time(kube_api):
    _, client = kube_api
    naive = KubernetesBackend(client, image="img", digest_skip=False)
    naive.apply(bot_spec(bot_id=42))
    assert naive.apply(bot_spec(bot_id=42)).writes == 7


def test_a_refused_request_is_a_clear_error(kube):
    double, backend = kube
    double.refuse("PATCH", "/api/v1/namespaces/bragabot-acme", 403)
    refused = r"PATCH /api/v1/namespaces/bragabot-acme: 403"
    with pytest.raises(KubernetesBackendError, match=refused):
        backend.apply(bot_spec(bot_id=42))


@pytest.fixture
def copying(kube_api):
    """A backend that copies the platform Secret from the release's namespace."""
    double, client = kube_api
    source = V1Secret(
        metadata=V1ObjectMeta(name="bragabot-platform", namespace="bragabot"),
        data={"DATABASE_URL": "cG9zdGdyZXM6Ly9kYg=="},
    )
    CoreV1Api(client).create_namespaced_secret("bragabot", source)
    settings = ClusterSettings(platform_secret_namespace="bragabot")
    return double, KubernetesBackend(client, image="img", settings=settings)


def test_the_platform_secret_is_copied_into_the_tenant_namespace(copying):
    double, backend = copying
    mark = len(double.calls())
    backend.apply(bot_spec(bot_id=42))
    calls = _since(double, mark)
    assert calls[0] == ("GET", "/api/v1/namespaces/bragabot/secrets/bragabot-platform")
    assert [c for c in calls if c[0] == "PATCH"][2:5] == [
        ("PATCH", f"{NS}/limitranges/tenant-limits"),
        ("PATCH", f"{NS}/secrets/bragabot-platform"),  # before the pods that load it
        ("PATCH", f"{NS}/secrets/bot-42-token"),
    ]
    copied = double.live("secrets", "bragabot-acme", "bragabot-platform")
    assert copied["data"] == {"DATABASE_URL": "cG9zdGdyZXM6Ly9kYg=="}
    assert "bragabot.io/bot" not in copied["metadata"]["labels"]
    # Unchanged: nothing written; a second bot of the tenant does not send it again.
    assert backend.apply(bot_spec(bot_id=42)).writes == 0
    mark = len(double.calls())
    backend.apply(bot_spec(bot_id=43))
    assert ("PATCH", f"{NS}/secrets/bragabot-platform") not in _since(double, mark)
    # Removing a bot never takes the tenant's copy with it.
    backend.remove(tenant="acme", bot_id=42)
    assert double.live("secrets", "bragabot-acme", "bragabot-platform") is not None


def test_a_rotated_platform_secret_is_copied_again(copying, kube_api):
    double, backend = copying
    backend.apply(bot_spec(bot_id=42))
    rotated = {"data": {"DATABASE_URL": "cG9zdGdyZXM6Ly9uZXc="}}
    CoreV1Api(kube_api[1]).patch_namespaced_secret(
        "bragabot-platform", "bragabot", rotated, _content_type="application/merge-patch+json"
    )
    mark = len(double.calls())
    assert backend.apply(bot_spec(bot_id=42)).writes == 1
    assert [c for c in _since(double, mark) if c[0] != "GET"] == [
        ("PATCH", f"{NS}/secrets/bragabot-platform")
    ]


def test_a_missing_platform_secret_is_a_clear_error(kube_api):
    _, client = kube_api
    backend = KubernetesBackend(
        client, image="img", settings=ClusterSettings(platform_secret_namespace="bragabot")
    )
    with pytest.raises(KubernetesBackendError, match="no Secret 'bragabot-platform' in"):
        backend.apply(bot_spec(bot_id=42))
