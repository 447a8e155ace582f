"""The KOL API: settings managers add, update and remove KOLs (handles resolved through
the sandbox X, audited), read their posts with snapshots and the report as JSON and CSV;
bad input is refused naming the field with nothing stored or asked of X; another
community's admin reaches nothing of it, by list or by id."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime

import pytest
from django_tenants.utils import tenant_context

from history.models import Entry
from sandbox.x import ManualClock
from tests.xfeed.helpers import clock_now
from xfeed.models import Kol
from xfeed.services.kol_tracking import kol_track

URL = "/api/v1/x/kols"
ALICE = {
    "username": "@alice",
    "tier": "mid",
    "rate_amount": 25_000_000,
    "rate_currency": "USDT",
    "billing": "per_post",
    "payout_address": "UQ-alice",
    "notes": "met at the conference",
    "campaigns": ["#Launch"],
}


@pytest.fixture(scope="module")
def kol_clock() -> ManualClock:
    return ManualClock(start=time.time() - 3 * 3600)  # posts of today, three hours old


@pytest.fixture
def admin(tenant, user_with_role, client_for):
    user_with_role(tenant, "admin", user_id=8201, username="admin")
    return client_for(tenant, user_id=8201, username="admin")


def lookups(kol_x) -> int:
    return len([c for c in kol_x.calls() if c["path"].startswith("/2/users/by/username/")])


def test_an_admin_adds_updates_lists_and_removes_a_kol(tenant, admin, kol_x):
    account = kol_x.add_account("alice")
    added = admin.post(URL, ALICE, format="json")
    assert added.status_code == 201, added.json()
    body = added.json()
    assert body["x_user_id"] == account["id"]  # a string: 64 bits
    assert (body["username"], body["campaigns"], body["rate"]) == ("alice", ["launch"], "25")
    assert body["rate_amount"] == 25_000_000
    entry = Entry.objects.get(tenant=tenant, action="xfeed.kol_added")
    assert entry.actor_id == "8201"

    again = admin.post(URL, {**ALICE, "tier": "macro"}, format="json")
    assert (again.status_code, again.json()["id"]) == (200, body["id"])
    put = admin.put(f"{URL}/{body['id']}", {**ALICE, "rate_amount": 1}, format="json")
    assert (put.status_code, put.json()["rate_amount"], put.json()["tier"]) == (200, 1, "mid")
    assert [k["id"] for k in admin.get(URL).json()["results"]] == [body["id"]]

    assert admin.delete(f"{URL}/{body['id']}").status_code == 204
    assert admin.get(URL).json()["results"] == []
    assert admin.delete(f"{URL}/{body['id']}").status_code == 404
    assert Entry.objects.filter(tenant=tenant, action="xfeed.kol_removed").count() == 1


def test_posts_with_snapshots_and_the_report_as_json_and_csv(tenant, admin, kol_x, kol_clock):
    kol_x.add_account("alice")
    kol_x.add_account("fan")
    kol_id = admin.post(URL, ALICE, format="json").json()["id"]
    post_id = kol_x.post("alice", "gm #launch")["id"]
    kol_x.like("fan", post_id)
    kol_x.follow("fan", "alice")
    kol_x.view_post(post_id, impressions=12)
    kol_track(tenant=tenant, now=clock_now(kol_clock))

    [post] = admin.get(f"{URL}/{kol_id}/posts").json()["results"]
    assert (post["post_id"], post["campaigns"]) == (post_id, ["launch"])
    [snapshot] = post["snapshots"]
    assert (snapshot["likes"], snapshot["impressions"]) == (1, 12)

    today = datetime.now(UTC).date().isoformat()
    report = admin.get(f"{URL}/report", {"from": today, "to": today}).json()
    assert (report["from"], report["to"], report["days"]) == (today, today, 1)
    [row] = report["kols"]
    assert (row["username"], row["posts"], row["likes"], row["impressions"]) == (
        "alice",
        1,
        1,
        12,
    )
    assert (row["cost_minor"], row["cost"], row["engagement_per_cost"]) == (
        25_000_000,
        "25",
        "0.04",
    )
    assert (row["followers"], row["follower_growth"]) == (1, 0)  # one reading so far
    [campaign] = report["campaigns"]
    assert (campaign["campaign"], campaign["currency"], campaign["kols"]) == ("launch", "USDT", 1)

    exported = admin.get(f"{URL}/report.csv", {"from": today, "to": today, "campaign": "launch"})
    assert exported.status_code == 200
    assert exported["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert [(r["row"], r["username"], r["campaign"]) for r in rows] == [
        ("kol", "alice", "launch"),
        ("campaign", "", "launch"),
    ]
    assert (rows[0]["cost_minor"], rows[0]["cost"], rows[0]["impressions"]) == (
        "25000000",
        "25",
        "12",
    )
    assert (rows[0]["followers"], rows[1]["followers"]) == ("1", "1")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**ALICE, "username": "bad handle"}, "username"),
        ({**ALICE, "username": "nobody"}, "username"),  # not on X
        ({**ALICE, "tier": "giga"}, "tier"),
        ({**ALICE, "billing": "hourly"}, "billing"),
        ({**ALICE, "rate_amount": -5}, "rate_amount"),
        ({**ALICE, "rate_amount": 1.5}, "rate_amount"),
        ({**ALICE, "rate_currency": "EUR"}, "rate_currency"),
        ({**ALICE, "campaigns": ["no spaces"]}, "campaigns"),
        ({**ALICE, "campaigns": "launch"}, "campaigns"),
        ({**ALICE, "payout_address": "x" * 129}, "payout_address"),
        ({k: v for k, v in ALICE.items() if k != "username"}, "username"),
    ],
)
def test_bad_input_is_refused_naming_the_field(tenant, admin, kol_x, payload, field):
    kol_x.add_account("alice")
    response = admin.post(URL, payload, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["detail"].startswith(f"{field}:")
    with tenant_context(tenant):
        assert not Kol.objects.exists()
    # Only a well-formed request asks X (for the handle); a malformed one never does.
    assert lookups(kol_x) == (1 if payload.get("username") == "nobody" else 0)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"from": "2026-06-02", "to": "2026-06-01"}, "to"),
        ({"campaign": "Not A Tag"}, "campaign"),
    ],
)
def test_bad_report_parameters_are_refused_naming_the_field(admin, query, field):
    for path in ("report", "report.csv"):
        response = admin.get(f"{URL}/{path}", query)
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        assert response.json()["detail"].startswith(f"{field}:")


def test_another_communitys_admin_reaches_nothing(make_tenant, user_with_role, client_for, kol_x):
    mine, theirs = make_tenant(), make_tenant()
    kol_x.add_account("alice")
    user_with_role(mine, "admin", user_id=8301)
    user_with_role(theirs, "admin", user_id=8302)
    me, them = client_for(mine, user_id=8301), client_for(theirs, user_id=8302)
    kol_id = me.post(URL, ALICE, format="json").json()["id"]

    assert them.get(URL).json()["results"] == []
    assert them.get(f"{URL}/{kol_id}/posts").status_code == 404
    assert them.put(f"{URL}/{kol_id}", ALICE, format="json").status_code == 404
    assert them.delete(f"{URL}/{kol_id}").status_code == 404
    assert them.get(f"{URL}/report").json()["kols"] == []
    # Their own KOL on the same X account is theirs alone.
    their_id = them.post(URL, ALICE, format="json").json()["id"]
    them.delete(f"{URL}/{their_id}")
    assert [k["id"] for k in me.get(URL).json()["results"]] == [kol_id]
    # A member of mine is not a settings manager.
    user_with_role(mine, "member", user_id=8303)
    assert client_for(mine, user_id=8303).get(URL).status_code == 403
