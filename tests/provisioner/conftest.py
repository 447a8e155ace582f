from __future__ import annotations

import pytest
from kubernetes.client import ApiClient, Configuration

from sandbox.kubernetes import serve


@pytest.fixture
def kube_api():
    """The Kubernetes API double on a local port, and an official client pointed at it."""
    with serve() as (double, url):
        configuration = Configuration()
        configuration.host = url
        with ApiClient(configuration) as client:
            yield double, client
