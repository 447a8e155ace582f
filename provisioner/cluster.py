"""The Kubernetes backend built from the settings (``PROVISIONER_*``) and the cluster this
process runs in, or a kubeconfig."""

from __future__ import annotations

import os

from django.conf import settings
from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration

from provisioner.desired import ClusterSettings
from provisioner.kubernetes import KubernetesBackend


def cluster_settings() -> ClusterSettings:
    return ClusterSettings(
        namespace_prefix=settings.PROVISIONER_NAMESPACE_PREFIX,
        platform_secret=settings.PROVISIONER_PLATFORM_SECRET,
        platform_secret_namespace=settings.PROVISIONER_PLATFORM_SECRET_NAMESPACE,
        ingress_class=settings.PROVISIONER_INGRESS_CLASS,
        ingress_namespace=settings.PROVISIONER_INGRESS_NAMESPACE,
        webhook_port=settings.BOT_WEBHOOK_PORT,
    )


def kubernetes_api_client() -> ApiClient:
    """A client of the cluster this process runs in (its service account), else of the
    kubeconfig ($KUBECONFIG, else ~/.kube/config)."""
    configuration = Configuration()
    try:
        kube_config.load_incluster_config(client_configuration=configuration)
    except kube_config.ConfigException:
        # Read $KUBECONFIG now: the library's default path is fixed when it is imported.
        path = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        kube_config.load_kube_config(config_file=path, client_configuration=configuration)
    return ApiClient(configuration)


def kubernetes_backend(*, api_client: ApiClient | None = None) -> KubernetesBackend:
    return KubernetesBackend(
        api_client or kubernetes_api_client(),
        image=settings.PROVISIONER_IMAGE,
        settings=cluster_settings(),
    )
