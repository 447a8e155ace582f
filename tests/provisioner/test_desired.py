"""A bot's desired objects: valid Kubernetes (strict), locked down, labelled, and only
what its placement and mode need."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest

from provisioner.desired import (
    BOT_LABEL,
    KUBERNETES_VERSION,
    ClusterSettings,
    desired_objects,
    dns_label,
    namespace_for,
)
from provisioner.kinds import kinds
from provisioner.spec import Placement

from .helpers import bot_spec

WEBHOOK = "https://bots.example.com"


def _by_kind(objects):
    return {obj["kind"]: obj for obj in objects}


def _container(objects):
    return _by_kind(objects)["Deployment"]["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("webhook_url", [None, WEBHOOK], ids=["polling", "webhook"])
@pytest.mark.parametrize("kind", sorted(kinds()))
def test_every_manifest_validates_strictly(kind, webhook_url):
    objects = desired_objects(bot_spec(kind=kind, webhook_url=webhook_url), image="img:1")
    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_strict_validation_catches_an_unknown_field():
    """The check above can fail: a field Kubernetes does not know is refused."""
    deployment = _by_kind(desired_objects(bot_spec(), image="img"))["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["runAsNonRoot"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_isolated_polling_bot_objects_in_apply_order():
    objects = desired_objects(bot_spec(bot_id=42), image="img")
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Namespace", "bragabot-acme"),
        ("ResourceQuota", "tenant-quota"),
        ("LimitRange", "tenant-limits"),
        ("Secret", "bot-42-token"),
        ("ConfigMap", "bot-42-config"),
        ("NetworkPolicy", "bot-42"),
        ("Deployment", "bot-42"),
    ]
    assert {o["metadata"].get("namespace", "bragabot-acme") for o in objects} == {"bragabot-acme"}


def test_webhook_mode_adds_a_service_and_an_ingress_path():
    objects = _by_kind(desired_objects(bot_spec(bot_id=42, webhook_url=WEBHOOK), image="img"))
    rule = objects["Ingress"]["spec"]["rules"][0]
    assert rule["host"] == "bots.example.com"
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/telegram/webhook/42"
    assert path["backend"]["service"] == {"name": "bot-42", "port": {"name": "webhook"}}
    assert objects["Service"]["spec"]["selector"] == {
        BOT_LABEL: "42",
        "app.kubernetes.io/instance": "bot-42",
    }
    command = _container(list(objects.values()))["command"]
    assert command[-4:] == ["--webhook", WEBHOOK, "--port", "8081"]
    # Only the ingress controller's namespace may reach the pod, on the webhook port.
    (ingress,) = objects["NetworkPolicy"]["spec"]["ingress"]
    assert ingress["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]
    assert ingress["ports"] == [{"protocol": "TCP", "port": 8081}]


def test_polling_mode_takes_no_ingress_traffic():
    objects = _by_kind(desired_objects(bot_spec(), image="img"))
    assert "Service" not in objects and "Ingress" not in objects
    policy = objects["NetworkPolicy"]["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == []
    ports = {(p["protocol"], p["port"]) for rule in policy["egress"] for p in rule["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 443), ("TCP", 5432), ("TCP", 6379)}


def test_the_pod_is_locked_down():
    objects = desired_objects(bot_spec(), image="img")
    pod = _by_kind(objects)["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    container = _container(objects)
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
    assert set(container["resources"]) == {"requests", "limits"}
    assert "livenessProbe" in container and "readinessProbe" in container


def test_the_deployment_runs_this_bot_with_its_token_and_config():
    spec = bot_spec(bot_id=42)
    objects = _by_kind(desired_objects(spec, image="ghcr.io/acme/bragabot:1.2"))
    container = _container(list(objects.values()))
    assert container["image"] == "ghcr.io/acme/bragabot:1.2"
    assert container["command"] == [
        "python", "manage.py", "runbots", "--bot", "42", "--serve", "updates,dispatch",
    ]  # fmt: skip
    env = {e["name"]: e for e in container["env"]}
    assert env["BOT_TOKEN"]["valueFrom"] == {
        "secretKeyRef": {"name": "bot-42-token", "key": "BOT_TOKEN"}
    }
    assert container["envFrom"] == [{"secretRef": {"name": "bragabot-platform"}}]
    assert objects["Secret"]["stringData"] == {"BOT_TOKEN": spec.token}
    assert json.loads(objects["ConfigMap"]["data"]["config.json"]) == spec.config()
    assert spec.token not in objects["ConfigMap"]["data"]["config.json"]
    deployment = objects["Deployment"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"bragabot.io/config-sha256": spec.config_sha256()}


def test_labels():
    objects = desired_objects(bot_spec(bot_id=42, kind="white_label"), image="img")
    by_kind = _by_kind(objects)
    assert by_kind["Namespace"]["metadata"]["labels"] == {
        "app.kubernetes.io/name": "bragabot-bot",
        "app.kubernetes.io/part-of": "bragabot",
        "app.kubernetes.io/managed-by": "bragabot-provisioner",
        "bragabot.io/tenant": "acme",
    }
    for kind in ("Secret", "ConfigMap", "NetworkPolicy", "Deployment"):
        labels = by_kind[kind]["metadata"]["labels"]
        assert labels[BOT_LABEL] == "42"
        assert labels["app.kubernetes.io/instance"] == "bot-42"
        assert labels["app.kubernetes.io/component"] == "white_label"
    # The tenant-wide objects are never pruned with a bot: they carry no bot label.
    for kind in ("Namespace", "ResourceQuota", "LimitRange"):
        assert BOT_LABEL not in by_kind[kind]["metadata"]["labels"]


def test_a_pooled_bot_needs_no_object():
    assert desired_objects(bot_spec(placement=Placement.POOLED), image="img") == []


def test_settings_name_the_platform_secret_and_prefix():
    settings = ClusterSettings(namespace_prefix="bb-", platform_secret="platform-env")
    objects = desired_objects(bot_spec(), image="img", settings=settings)
    assert objects[0]["metadata"]["name"] == "bb-acme"
    assert _container(objects)["envFrom"] == [{"secretRef": {"name": "platform-env"}}]


def test_a_bad_webhook_url_is_refused():
    with pytest.raises(ValueError, match="webhook_url must be an http"):
        desired_objects(bot_spec(webhook_url="ftp://x"), image="img")


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("acme", "bragabot-acme"),
        ("acme-2", "bragabot-acme-2"),
    ],
)
def test_a_clean_slug_is_the_namespace(slug, expected):
    assert namespace_for(slug, ClusterSettings()) == expected


@pytest.mark.parametrize("slug", ["Acme_Corp", "a" * 80, "--", "ÄCME", "acme.corp"])
def test_other_slugs_become_valid_distinct_names(slug):
    name = namespace_for(slug, ClusterSettings())
    assert len(name) <= 63
    assert name.replace("-", "").isalnum() and name == name.lower() and name.isascii()
    assert not name.startswith("-") and not name.endswith("-")
    kubernetes_validate.validate(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        KUBERNETES_VERSION,
        strict=True,
    )


def test_slugs_that_clean_to_the_same_text_get_different_names():
    names = {dns_label(s) for s in ["acme_corp", "acme-corp", "acme.corp", "ACME-corp"]}
    assert len(names) == 4
    assert len({dns_label("a" * 80), dns_label("a" * 81)}) == 2
