"""The X budget API: a community's settings managers read its X usage this month and
set or lift its cap (recorded in history); bad input is refused with nothing changed;
another community's admin sees nothing of it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from history.models import Entry
from xclient.metering import usage_charge
from xclient.models import Budget

URL = "/api/v1/x/budget"


@pytest.fixture
def admin(tenant, user_with_role, client_for):
    user_with_role(tenant, "admin", user_id=8101, username="admin")
    return client_for(tenant, user_id=8101, username="admin")


def test_an_admin_reads_the_month_and_sets_and_lifts_the_cap(tenant, admin):
    usage_charge(tenant=tenant, app="platform", post_ids=[1, 2, 3], user_reads=1)
    usage_charge(tenant=tenant, app="platform", post_ids=[9], owned=True)
    body = admin.get(URL).json()
    assert body == {
        "month": datetime.now(UTC).date().replace(day=1).isoformat(),
        "post_reads": 3,
        "user_reads": 1,
        "owned_reads": 1,
        "cost_micros": 3 * 5_000 + 10_000 + 1_000,
        "cap_micros": None,
        "paused": False,
        "alerted": 0,
    }
    capped = admin.put(URL, {"monthly_cap_micros": 20_000}, format="json")
    assert capped.status_code == 200
    assert (capped.json()["cap_micros"], capped.json()["paused"]) == (20_000, True)
    set_entry = Entry.objects.filter(action="xclient.budget_set", tenant_id=tenant.pk).latest("id")
    assert (set_entry.actor_id, set_entry.data) == ("8101", {"monthly_cap_micros": 20_000})
    lifted = admin.put(URL, {"monthly_cap_micros": None}, format="json")
    assert (lifted.json()["cap_micros"], lifted.json()["paused"]) == (None, False)


@pytest.mark.parametrize(
    "payload",
    [
        {"monthly_cap_micros": -1},
        {"monthly_cap_micros": "lots"},
        {"monthly_cap_micros": 10**16},
        {"monthly_cap_micros": 5, "currency": "USD"},
        {},
    ],
)
def test_bad_input_is_refused_and_changes_nothing(tenant, admin, payload):
    response = admin.put(URL, payload, format="json")
    assert response.status_code == 400
    assert {"detail", "code"} <= set(response.json())
    assert not Budget.objects.filter(tenant=tenant).exists()


def test_another_community_s_admin_sees_nothing(make_tenant, user_with_role, client_for):
    a, b = make_tenant(), make_tenant()
    user_with_role(a, "admin", user_id=8102, username="a_admin")
    # A's admin, with a token of B's bot on B's domain, is nobody there.
    stranger = client_for(b, user_id=8102, username="a_admin")
    assert stranger.get(URL).status_code == 403
    assert stranger.put(URL, {"monthly_cap_micros": 1}, format="json").status_code == 403
    assert not Budget.objects.filter(tenant=b).exists()
