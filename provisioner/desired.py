"""A bot's desired state in Kubernetes: the objects its spec asks for, as plain dicts.

An isolated bot gets, in its tenant's namespace, a Secret (its token), a ConfigMap
(``spec.config()`` as JSON), a NetworkPolicy and a Deployment running
``runbots --bot ID``; in webhook mode also a Service and an Ingress path
``/telegram/webhook/<bot_id>``. The namespace comes with a ResourceQuota and a
LimitRange. A pooled bot is hosted by the shared runtime shards: it needs no object
of its own, so its desired state is empty (applying it prunes what it had while it was
isolated). Each bot's objects carry ``bragabot.io/bot=<id>``: that label is how they
are found again, compared and pruned. The tenant-wide objects carry no bot label and
are never pruned with a bot."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from provisioner.spec import BotSpec, Placement
from provisioner.workload import workload_render

# The Kubernetes version the rendered manifests are written for (and validated against).
KUBERNETES_VERSION = "1.33.0"

PART_OF = "bragabot"
MANAGED_BY = "bragabot-provisioner"
BOT_LABEL = "bragabot.io/bot"
TENANT_LABEL = "bragabot.io/tenant"
CONFIG_SHA_ANNOTATION = "bragabot.io/config-sha256"
CONFIG_DIR = "/etc/bragabot"
WEBHOOK_PATH = "/telegram/webhook/{bot_id}"

_NOT_DNS = re.compile(r"[^a-z0-9-]+")
DNS_LABEL_MAX = 63


@dataclass(frozen=True)
class ClusterSettings:
    """What the platform's deployment decides for every bot (settings.PROVISIONER_*)."""

    namespace_prefix: str = "bragabot-"
    platform_secret: str = "bragabot-platform"  # DATABASE_URL, REDIS_URL, keys: envFrom
    # Where that Secret lives (the release's namespace): the backend copies it into each
    # tenant namespace. Empty: it is already there (made by whoever runs the cluster).
    platform_secret_namespace: str = ""
    ingress_class: str = "nginx"
    ingress_namespace: str = "ingress-nginx"  # the only source of webhook traffic
    webhook_port: int = 8081
    egress_ports: tuple[int, ...] = (443, 5432, 6379)  # Telegram, PostgreSQL, Redis
    run_as_user: int = 10001
    progress_deadline_s: int = 300
    # A tenant namespace's ResourceQuota (a tuple of pairs: the settings stay hashable).
    quota: tuple[tuple[str, str], ...] = (
        ("pods", "20"),
        ("requests.cpu", "2"),
        ("requests.memory", "4Gi"),
        ("limits.cpu", "8"),
        ("limits.memory", "8Gi"),
        ("secrets", "50"),
        ("configmaps", "50"),
        ("services", "20"),
    )


def dns_label(text: str, *, prefix: str = "") -> str:
    """``prefix + text`` as a DNS-1123 label (lowercase, ``[a-z0-9-]``, at most 63
    characters). When ``text`` had to change (other characters, too long) a hash of the
    original is appended, so two slugs never map to one name."""
    cleaned = _NOT_DNS.sub("-", text.lower()).strip("-")
    name = f"{prefix}{cleaned}".strip("-")
    if cleaned == text and len(name) <= DNS_LABEL_MAX and name:
        return name
    suffix = hashlib.sha256(text.encode()).hexdigest()[:8]
    head = name[: DNS_LABEL_MAX - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}" if head else f"x-{suffix}"


def namespace_for(tenant: str, settings: ClusterSettings) -> str:
    return dns_label(tenant, prefix=settings.namespace_prefix)


def object_name(bot_id: int) -> str:
    return f"bot-{bot_id}"


def tenant_labels(tenant: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "bragabot-bot",
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        TENANT_LABEL: dns_label(tenant),
    }


def bot_labels(tenant: str, bot_id: int, kind: str) -> dict[str, str]:
    return {
        **tenant_labels(tenant),
        "app.kubernetes.io/instance": object_name(bot_id),
        "app.kubernetes.io/component": kind,  # a kind name (ours): a valid label value
        BOT_LABEL: str(bot_id),
    }


def namespace_objects(*, tenant: str, kind: str, settings: ClusterSettings) -> list[dict[str, Any]]:
    """The tenant-wide objects: the namespace, its quota and its limit range (the same
    for every bot of the tenant: rendered once, copied for each)."""
    return copy.deepcopy(_namespace_objects(tenant, kind, settings))


@functools.lru_cache(maxsize=4096)
def _namespace_objects(tenant: str, kind: str, settings: ClusterSettings) -> list[dict[str, Any]]:
    context = {
        "namespace": namespace_for(tenant, settings),
        "namespace_labels": tenant_labels(tenant),
        "quota": dict(settings.quota),
        "container_default": {
            "requests": {"cpu": "25m", "memory": "64Mi"},
            "limits": {"cpu": "250m", "memory": "192Mi"},
        },
    }
    return [
        *workload_render(kind=kind, name="namespace.yaml.j2", context=context),
        *workload_render(kind=kind, name="quota.yaml.j2", context=context),
    ]


def _webhook(spec: BotSpec) -> tuple[str, str, str] | None:
    """(public base URL, host, path) in webhook mode."""
    if not spec.webhook_url:
        return None
    parts = urlsplit(spec.webhook_url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ValueError(f"webhook_url must be an http(s) URL, not {spec.webhook_url!r}")
    base = f"{parts.scheme}://{parts.netloc}"
    return base, parts.hostname, WEBHOOK_PATH.format(bot_id=spec.bot_id)


def _egress(settings: ClusterSettings) -> list[dict[str, Any]]:
    dns = [{"protocol": proto, "port": 53} for proto in ("UDP", "TCP")]
    tcp = [{"protocol": "TCP", "port": port} for port in settings.egress_ports]
    return [{"ports": dns}, {"ports": tcp}]


def _probes(webhook: bool) -> dict[str, Any]:
    # Webhook mode: the pod is ready once its webhook port accepts connections (what
    # Telegram needs). Long polling serves no port: the probe only checks that the
    # runtime's process answers (a hung interpreter fails it).
    if webhook:
        check: dict[str, Any] = {"tcpSocket": {"port": "webhook"}}
    else:
        check = {"exec": {"command": ["python", "-c", "import os; os.kill(1, 0)"]}}
    liveness = {**check, "initialDelaySeconds": 10, "periodSeconds": 20, "failureThreshold": 3}
    readiness = {**check, "periodSeconds": 10, "failureThreshold": 3}
    return {"liveness_probe": liveness, "readiness_probe": readiness}


def bot_context(spec: BotSpec, *, image: str, settings: ClusterSettings) -> dict[str, Any]:
    """What the bot's templates are rendered with."""
    name = object_name(spec.bot_id)
    labels = bot_labels(spec.tenant, spec.bot_id, spec.kind)
    webhook = _webhook(spec)
    command = ["python", "manage.py", "runbots", "--bot", str(spec.bot_id)]
    command += ["--serve", "updates,dispatch"]  # the shards run the durable jobs
    ingress_rules: list[dict[str, Any]] = []
    ports: list[dict[str, Any]] = []
    context: dict[str, Any] = {}
    if webhook:
        base, host, path = webhook
        command += ["--webhook", base, "--port", str(settings.webhook_port)]
        ports = [{"name": "webhook", "containerPort": settings.webhook_port, "protocol": "TCP"}]
        source = {"kubernetes.io/metadata.name": settings.ingress_namespace}
        ingress_rules = [
            {
                "from": [{"namespaceSelector": {"matchLabels": source}}],
                "ports": [{"protocol": "TCP", "port": settings.webhook_port}],
            }
        ]
        context |= {"webhook_host": host, "webhook_path": path}
    return context | {
        "namespace": namespace_for(spec.tenant, settings),
        "labels": labels,
        "selector": {BOT_LABEL: str(spec.bot_id), "app.kubernetes.io/instance": name},
        "names": {
            "secret": f"{name}-token",
            "config": f"{name}-config",
            "deployment": name,
            "network_policy": name,
            "service": name,
            "ingress": name,
        },
        "token": spec.token,
        "config_json": json.dumps(spec.config(), sort_keys=True, ensure_ascii=False),
        "image": image,
        "command": command,
        "replicas": 1,
        "progress_deadline_s": settings.progress_deadline_s,
        "run_as_user": settings.run_as_user,
        "pod_annotations": {CONFIG_SHA_ANNOTATION: spec.config_sha256()},
        "env": [
            {
                "name": "BOT_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": f"{name}-token", "key": "BOT_TOKEN"}},
            },
            {"name": "BRAGABOT_BOT_CONFIG", "value": f"{CONFIG_DIR}/config.json"},
            {"name": "BRAGABOT_ENV", "value": "production"},
        ],
        "env_from": [{"secretRef": {"name": settings.platform_secret}}],
        "ports": ports,
        "config_dir": CONFIG_DIR,
        # A kind without its own workload/deployment.yaml.j2 gets these.
        "resources": {
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        **_probes(webhook is not None),
        "ingress_rules": ingress_rules,
        "egress_rules": _egress(settings),
        "webhook_port": settings.webhook_port,
        "ingress_class": settings.ingress_class,
    }


def desired_objects(
    spec: BotSpec, *, image: str, settings: ClusterSettings | None = None
) -> list[dict[str, Any]]:
    """Every object ``spec`` needs, in the order to apply them (what a pod mounts before
    the Deployment). Empty for a pooled bot."""
    settings = settings or ClusterSettings()
    if spec.placement == Placement.POOLED:
        return []
    context = bot_context(spec, image=image, settings=settings)
    names = ["secret", "configmap", "networkpolicy"]
    if spec.webhook_url:
        names += ["service", "ingress"]
    names.append("deployment")
    objects = namespace_objects(tenant=spec.tenant, kind=spec.kind, settings=settings)
    for name in names:
        objects += workload_render(kind=spec.kind, name=f"{name}.yaml.j2", context=context)
    return objects
