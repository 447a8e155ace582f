"""The Kubernetes backend built from the settings and a kubeconfig."""

from __future__ import annotations

import pytest
import yaml
from kubernetes.config import ConfigException

from provisioner.cluster import cluster_settings, kubernetes_backend
from provisioner.spec import Status

from .helpers import bot_spec


def test_the_settings_shape_the_objects(settings):
    settings.PROVISIONER_NAMESPACE_PREFIX = "bb-"
    settings.PROVISIONER_PLATFORM_SECRET = "platform-env"
    settings.PROVISIONER_INGRESS_NAMESPACE = "traefik"
    settings.PROVISIONER_PLATFORM_SECRET_NAMESPACE = "bragabot"
    settings.BOT_WEBHOOK_PORT = 9000
    cluster = cluster_settings()
    assert (cluster.namespace_prefix, cluster.platform_secret) == ("bb-", "platform-env")
    assert (cluster.ingress_namespace, cluster.webhook_port) == ("traefik", 9000)
    assert cluster.platform_secret_namespace == "bragabot"


def test_the_backend_uses_the_kubeconfig(kube_api, settings, tmp_path, monkeypatch):
    double, _ = kube_api
    url = double.servers[0].url
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "double", "cluster": {"server": str(url).rstrip("/")}}],
        "users": [{"name": "bragabot", "user": {"token": "t0ken"}}],
        "contexts": [{"name": "double", "context": {"cluster": "double", "user": "bragabot"}}],
        "current-context": "double",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(path))
    settings.PROVISIONER_IMAGE = "registry.example/bragabot:7"
    backend = kubernetes_backend()
    assert backend.apply(bot_spec(bot_id=5)).status == Status.DEPLOYING
    deployment = double.live("deployments", "bragabot-acme", "bot-5")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "registry.example/bragabot:7"
    )
    (first, *_) = list(double)
    assert first.headers["Authorization"] == "Bearer t0ken"


def test_no_cluster_and_no_kubeconfig_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(ConfigException):
        kubernetes_backend()
