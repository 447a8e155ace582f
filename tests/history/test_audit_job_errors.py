"""A dead job's traceback is in the audit trail for platform staff, not for a tenant's
admins reading GET /api/v1/audit."""

from __future__ import annotations

from botruntime.services import job_enqueue, job_run, jobs_claim
from config import job_registry
from history.models import Entry

AUDIT = "/api/v1/audit?action=job.dead"
SECRET_PATH = "/srv/bragabot/internal/secret_module.py"


def _explode(*, tenant, payload) -> None:
    raise RuntimeError(f"cannot open {SECRET_PATH}: connection to 10.0.0.5 refused")


def _dead_job(tenant, monkeypatch) -> Entry:
    monkeypatch.setitem(
        job_registry._REGISTRY,
        "test.explodes",
        job_registry.JobKind("test.explodes", _explode, per_tenant=True, max_attempts=1),
    )
    job_enqueue(kind="test.explodes", tenant=tenant)
    [claimed] = jobs_claim(worker="w", limit=1)
    assert job_run(job=claimed, worker="w") == "dead"
    entry = Entry.objects.get(action="job.dead", tenant=tenant)
    assert "Traceback" in entry.data["error"] and SECRET_PATH in entry.data["error"]
    return entry


def test_tenant_admins_see_that_a_job_died_but_not_its_traceback(
    tenant, user_with_role, client_for, monkeypatch
):
    entry = _dead_job(tenant, monkeypatch)
    user_with_role(tenant, "owner", user_id=9301)
    user_with_role(tenant, "admin", user_id=9302)
    for user_id in (9301, 9302):
        response = client_for(tenant, user_id=user_id).get(AUDIT)
        assert response.status_code == 200, response.content
        [row] = response.json()["results"]
        assert row["id"] == entry.pk
        assert row["data"] == {"kind": "test.explodes", "attempts": 1}
        assert SECRET_PATH not in response.content.decode()
        assert "Traceback" not in response.content.decode()


def test_staff_see_the_traceback(tenant, user_with_role, client_for, monkeypatch):
    entry = _dead_job(tenant, monkeypatch)
    user_with_role(tenant, "staff", user_id=9303)
    response = client_for(tenant, user_id=9303).get(AUDIT)
    assert response.status_code == 200, response.content
    [row] = response.json()["results"]
    assert row["data"] == entry.data
    assert SECRET_PATH in row["data"]["error"]


def test_other_entries_keep_their_data(tenant, user_with_role, client_for):
    user_with_role(tenant, "owner", user_id=9304)
    rows = client_for(tenant, user_id=9304).get("/api/v1/audit?action=role.assigned")
    [row] = rows.json()["results"]
    assert row["data"]["role"] == "owner"
