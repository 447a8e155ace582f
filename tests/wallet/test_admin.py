"""The ledger in the Django admin: listed and shown to staff, never added, changed or
deleted there."""

from __future__ import annotations

from tests.wallet.helpers import bind_group, deposit, group_account, key, ledger_counts
from wallet.models import Account, Entry, Hold, Transfer
from wallet.services import hold_create

# Tenants without schemas (tests/wallet/conftest.py): the ledger needs only their rows.
LEDGER_ONLY = True

CHAT = -1005580000001


def test_the_ledger_is_listed_and_shown_read_only(admin_client, tenant) -> None:
    staff = admin_client  # pytest-django's: a superuser logged in with Django's test client
    bind_group(tenant, CHAT)
    account = group_account(tenant, CHAT, "USDT")
    transfer = deposit(tenant, account, 1_000)
    hold = hold_create(
        tenant=tenant, group_account=account, amount=400, reference="raid:1", idempotency_key=key()
    )
    entry = Entry.objects.filter(account=account).first()
    assert entry is not None
    before = ledger_counts(), list(Account.objects.values_list("balance", flat=True))

    for model, obj in ((Account, account), (Transfer, transfer), (Entry, entry), (Hold, hold)):
        base = f"/admin/wallet/{model._meta.model_name}/"
        listing = staff.get(base)
        assert listing.status_code == 200, model
        assert b"delete_selected" not in listing.content
        assert staff.get(f"{base}add/").status_code == 403
        assert staff.get(f"{base}{obj.pk}/change/").status_code == 200  # a view-only page
        assert staff.post(f"{base}{obj.pk}/change/", {"amount": 1}).status_code == 403
        assert staff.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403

    assert (ledger_counts(), list(Account.objects.values_list("balance", flat=True))) == before
