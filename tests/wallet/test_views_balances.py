"""Balances over the API: a group's per currency (available and held) for its community's
fund managers only, the user's own; reads create no account."""

from __future__ import annotations

from tests.wallet.helpers import (
    bind_group,
    deposit,
    group_account,
    key,
    ledger_counts,
    user_account,
)
from wallet.services import hold_create

CHAT = -1005560000001
ADMIN, ALICE, MODERATOR = 5601, 5602, 5603


def _balances(response) -> dict[str, tuple[int, str, int, str]]:
    assert response.status_code == 200, response.content
    return {
        row["currency"]: (
            row["available"],
            row["available_decimal"],
            row["held"],
            row["held_decimal"],
        )
        for row in response.json()["balances"]
    }


def test_a_groups_balances_per_currency_with_what_is_held(community, user_with_role, client_for):
    user_with_role(community, "admin", user_id=ADMIN)
    bind_group(community, CHAT, title="Raiders")
    usdt = group_account(community, CHAT, "USDT")
    deposit(community, usdt, 2_500_000)
    hold_create(
        tenant=community,
        group_account=usdt,
        amount=750_000,
        reference="raid:7",
        idempotency_key=key(),
    )
    deposit(community, group_account(community, CHAT, "XTR"), 40)
    before = ledger_counts()

    response = client_for(community, user_id=ADMIN).get(f"/api/v1/wallet/groups/{CHAT}/balances")

    body = response.json()
    assert (body["chat_id"], body["title"]) == (CHAT, "Raiders")
    assert [row["currency"] for row in body["balances"]] == ["XTR", "USDT", "TON"]  # configured
    assert _balances(response) == {
        "XTR": (40, "40", 0, "0"),
        "USDT": (1_750_000, "1.75", 750_000, "0.75"),
        "TON": (0, "0", 0, "0"),  # no account yet: zero, and none is created
    }
    assert {row["currency"]: row["exponent"] for row in body["balances"]} == {
        "XTR": 0,
        "USDT": 6,
        "TON": 9,
    }
    assert ledger_counts() == before


def test_only_fund_managers_of_the_groups_own_tenant_see_its_funds(two_communities, client_for):
    a, b, b_chat = two_communities(
        CHAT,
        admin=ADMIN,
        b_user=MODERATOR,
        b_role="moderator",
        funds=("XTR", 99),
        b_title="B's group",
    )

    response = client_for(a, user_id=ADMIN).get(f"/api/v1/wallet/groups/{b_chat}/balances")
    assert (response.status_code, response.json()["code"]) == (404, "group_not_found")
    assert b"B's group" not in response.content and b"99" not in response.content
    # In B, a moderator holds no manage_funds.
    response = client_for(b, user_id=MODERATOR).get(f"/api/v1/wallet/groups/{b_chat}/balances")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_a_user_reads_their_own_balances_in_this_tenant_only(make_community, client_for):
    a, b = make_community(), make_community()
    deposit(a, user_account(a, ALICE, "XTR"), 12)
    deposit(a, user_account(a, ALICE + 1, "XTR"), 500)  # someone else in A
    deposit(b, user_account(b, ALICE, "XTR"), 300)  # Alice's wallet in B

    response = client_for(a, user_id=ALICE).get("/api/v1/wallet/me/balances")

    assert response.json()["telegram_id"] == ALICE
    assert _balances(response)["XTR"] == (12, "12", 0, "0")
