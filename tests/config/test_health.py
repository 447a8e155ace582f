"""The probes: /healthz and /readyz answer on any Host header (a pod's IP), over plain
HTTP in production settings, before the tenant lookup; /readyz is 503 without a database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = os.pathsep.join(str(ROOT / name) for name in ("platform", "tenants", "."))
POD_IP = "10.42.0.17:8000"

# Production's redirect to HTTPS and a host list without the pod's IP: the probes pass.
PRODUCTION_LIKE = {"ALLOWED_HOSTS": ["bragabot.example"], "SECURE_SSL_REDIRECT": True}


def test_liveness_answers_on_a_pod_ip(settings):
    for name, value in PRODUCTION_LIKE.items():
        setattr(settings, name, value)
    response = Client(HTTP_HOST=POD_IP).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


@pytest.mark.django_db
def test_readiness_answers_when_the_database_answers(settings):
    for name, value in PRODUCTION_LIKE.items():
        setattr(settings, name, value)
    response = Client(HTTP_HOST=POD_IP).get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


@pytest.mark.django_db
def test_other_paths_still_go_through_the_tenant_lookup():
    response = Client(HTTP_HOST=POD_IP).get("/healthz/")
    assert response.status_code == 404
    assert response.json()["code"] == "tenant_not_found"


def test_a_probe_path_takes_get_and_head_only():
    client = Client(HTTP_HOST=POD_IP)
    assert client.head("/healthz").status_code == 200
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.json() == {
        "detail": "method POST is not allowed here",
        "code": "method_not_allowed",
    }
    assert response["Allow"] == "GET, HEAD"


PROBE_WITHOUT_DATABASE = """
import json, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="10.42.0.17:8000")
answers = {path: client.get(path) for path in ("/healthz", "/readyz")}
print(json.dumps({path: [r.status_code, r.json()] for path, r in answers.items()}))
"""


def test_readiness_fails_and_liveness_holds_without_a_database():
    # A fresh process whose DATABASE_URL names a port nothing listens on.
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": SOURCE_ROOTS,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "BRAGABOT_ENV": "development",
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/unreachable?connect_timeout=2",
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE_WITHOUT_DATABASE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["/healthz"] == [200, {"status": "alive"}]
    assert answers["/readyz"] == [
        503,
        {"detail": "the database is unreachable", "code": "database_unavailable"},
    ]
