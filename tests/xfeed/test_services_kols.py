"""KOLs set and removed through the service, their handles resolved through the sandbox X:
every field checked (the error names it) before X is asked, unknown handles refused,
changes audited, removal keeping the posts, the X cap honoured."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from config.errors import ServiceError
from history.models import Entry
from history.services import Actor
from tests.xfeed.helpers import calls_to, kol_add
from xclient.metering import budget_set
from xclient.reader import ReadRefused
from xfeed.models import Kol
from xfeed.services.kols import kol_remove, kol_set

LOOKUPS = "/2/users/by/username/"


def lookups(kol_x) -> int:
    return len([c for c in kol_x.calls() if c["path"].startswith(LOOKUPS)])


def test_a_kol_is_the_x_account_behind_the_handle_and_is_audited(tenant, kol_x):
    account = kol_x.add_account("CryptoAlice")
    kol = kol_add(tenant, "@cryptoalice", campaigns=["#Launch", "launch", "q3_push"])
    assert kol.x_user_id == int(account["id"])
    assert kol.username == "CryptoAlice"  # as X spells it
    assert kol.campaigns == ["launch", "q3_push"]
    added = Entry.objects.get(tenant=tenant, action="xfeed.kol_added")
    assert (added.target_type, added.target_id) == ("kol", str(kol.pk))
    assert added.data["campaigns"] == ["launch", "q3_push"]

    # The same account again updates the KOL: one row, what changed audited.
    macro = {"tier": "macro", "rate_amount": 5, "billing": "monthly"}
    again, created = kol_set(
        tenant=tenant,
        username="CryptoAlice",
        rate_currency="USDT",
        campaigns=["launch", "q3_push"],
        actor=Actor.system(),
        **macro,
    )
    assert (again.pk, created) == (kol.pk, False)
    updated = Entry.objects.get(tenant=tenant, action="xfeed.kol_updated")
    assert set(updated.data["changed"]) == {"tier", "rate_amount", "billing"}
    assert updated.data["changed"]["tier"] == {"from": "micro", "to": "macro"}
    with tenant_context(tenant):
        assert Kol.objects.count() == 1
    # The same fields once more: nothing changed, nothing recorded.
    kol_add(tenant, "cryptoalice", campaigns=["launch", "q3_push"], **macro)
    assert Entry.objects.filter(tenant=tenant, action__startswith="xfeed.kol_").count() == 2


def test_an_unknown_handle_is_refused_naming_username(tenant, kol_x):
    with pytest.raises(ServiceError) as refused:
        kol_add(tenant, "nobody_here")
    assert (refused.value.status, refused.value.code) == (400, "x_user_not_found")
    assert refused.value.message.startswith("username:")
    with tenant_context(tenant):
        assert not Kol.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "has space"),
        ("username", "a" * 16),
        ("tier", "giga"),
        ("billing", "hourly"),
        ("rate_amount", -1),
        ("rate_amount", 1.5),
        ("rate_amount", True),
        ("rate_amount", "100"),
        ("rate_currency", "EUR"),
        ("payout_address", "x" * 129),
        ("notes", "n" * 2001),
        ("campaigns", ["Bad Tag"]),
        ("campaigns", ["x" * 33]),
        ("campaigns", "launch"),
        ("campaigns", [f"c{n}" for n in range(21)]),
    ],
)
def test_each_field_is_checked_before_x_is_asked(tenant, kol_x, field, value):
    kol_x.add_account("alice")
    fields = {"username": "alice", field: value}
    with pytest.raises(ServiceError) as refused:
        kol_add(tenant, **fields)
    assert refused.value.status == 400
    assert refused.value.message.startswith(f"{field}:")
    assert lookups(kol_x) == 0


def test_every_wallet_currency_is_a_rate_currency(tenant, kol_x, settings):
    settings.WALLET_CURRENCIES = {"XTR": 0, "TON": 9}
    kol_x.add_account("alice")
    assert kol_add(tenant, "alice", rate_currency="TON", rate_amount=10**9).rate_currency == "TON"
    with pytest.raises(ServiceError, match=r"^rate_currency:"):
        kol_add(tenant, "alice", rate_currency="USDT")


def test_updating_by_id_keeps_the_kol_on_its_x_account(tenant, kol_x):
    kol_x.add_account("alice")
    kol_x.add_account("bob")
    alice = kol_add(tenant, "alice")
    with pytest.raises(ServiceError) as other:
        kol_add(tenant, "bob", kol_id=alice.pk)
    assert (other.value.status, other.value.message[:9]) == (400, "username:")
    with pytest.raises(ServiceError) as missing:
        kol_add(tenant, "alice", kol_id=alice.pk + 1000)
    assert (missing.value.status, missing.value.code) == (404, "kol_not_found")


def test_removing_stops_tracking_keeps_history_and_adding_again_restores(tenant, kol_x):
    kol_x.add_account("alice")
    kol = kol_add(tenant, "alice")
    kol_remove(tenant=tenant, kol_id=kol.pk, actor=Actor.system())
    with tenant_context(tenant):
        assert Kol.objects.get(pk=kol.pk).is_active is False
    assert Entry.objects.filter(tenant=tenant, action="xfeed.kol_removed").count() == 1
    with pytest.raises(ServiceError) as twice:
        kol_remove(tenant=tenant, kol_id=kol.pk, actor=Actor.system())
    assert twice.value.status == 404
    again = kol_add(tenant, "alice")
    assert again.pk == kol.pk and again.is_active
    assert Entry.objects.filter(tenant=tenant, action="xfeed.kol_added").count() == 2


def test_a_tenant_past_its_x_cap_cannot_resolve_handles(tenant, kol_x):
    kol_x.add_account("alice")
    kol_x.add_account("bob")
    budget_set(tenant=tenant, monthly_cap_micros=10_000, actor=Actor.system())
    kol_add(tenant, "alice")  # the read that reaches the cap: one user, 10,000
    with pytest.raises(ReadRefused) as paused:
        kol_add(tenant, "bob")
    assert (paused.value.status, paused.value.code) == (429, "x_cap_reached")
    assert lookups(kol_x) == 1
    assert calls_to(kol_x, "/2/users/by/username/bob") == []
