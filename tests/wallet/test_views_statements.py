"""Statements over the API: keyset pages with no line twice or missing while entries are
posted meanwhile, the filters, bad input refused (400 with detail and code, nothing
written), a group's statement only for its own community's fund managers, a user's only
their own."""

from __future__ import annotations

import pytest

from history.models import Entry as HistoryEntry
from tests.wallet.helpers import (
    bind_group,
    deposit,
    group_account,
    key,
    ledger_counts,
    move,
    user_account,
)
from wallet.models import Entry
from wallet.services import hold_create

CHAT = -1005550000001
ADMIN, ALICE, BOB = 5501, 5502, 5503


def _url(chat_id: int = CHAT) -> str:
    return f"/api/v1/wallet/groups/{chat_id}/statement"


@pytest.fixture
def funds(community, user_with_role):
    """A bound group's USDT account, and a fund manager of the group (an admin)."""
    user_with_role(community, "admin", user_id=ADMIN)
    bind_group(community, CHAT, title="Funded")
    return group_account(community, CHAT, "USDT")


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [line["entry_id"] for line in response.json()["results"]]


def test_a_walk_over_many_entries_has_no_duplicates_or_gaps_while_entries_arrive(
    community, funds, client_for
):
    for n in range(1, 61):
        deposit(community, funds, n)
    newest_first = Entry.objects.filter(account=funds).order_by("-account_version")
    expected = list(newest_first.values_list("id", flat=True))
    client = client_for(community, user_id=ADMIN)

    seen: list[int] = []
    response = client.get(_url(), {"currency": "USDT", "page_size": 7})
    while True:
        seen += _ids(response)
        deposit(community, funds, 1000)  # posted while the client walks: never shifts a page
        following = response.json()["next"]
        if not following:
            break
        response = client.get(following)

    assert seen == expected  # newest first, each once, none missing, none posted later
    # The newest page now starts with what arrived meanwhile.
    assert len(_ids(client.get(_url(), {"currency": "USDT", "page_size": 200}))) == 60 + 9


def test_a_line_shows_kind_amounts_balance_and_counterparty(community, funds, client_for):
    first = deposit(community, funds, 2_500_000)
    hold_create(
        tenant=community,
        group_account=funds,
        amount=1_000_000,
        reference="raid:1",
        idempotency_key=key("hold"),
    )

    body = client_for(community, user_id=ADMIN).get(_url(), {"currency": "usdt"}).json()

    newest, oldest = body["results"]
    assert (newest["kind"], newest["currency"]) == ("hold", "USDT")
    assert (newest["amount"], newest["amount_decimal"]) == (-1_000_000, "-1")
    assert (newest["balance_after"], newest["balance_after_decimal"]) == (1_500_000, "1.5")
    assert newest["counterparty"] == f"group:{CHAT}:escrow"
    assert newest["metadata"] == {"reference": "raid:1"}
    assert (oldest["transfer_id"], oldest["kind"]) == (first.pk, "deposit")
    assert oldest["counterparty"] == f"tenant:{community.pk}:external"
    assert (oldest["amount"], oldest["amount_decimal"]) == (2_500_000, "2.5")
    # The escrow account has its own statement.
    escrow = client_for(community, user_id=ADMIN).get(
        _url(), {"currency": "USDT", "account": "escrow"}
    )
    assert [(line["amount"], line["counterparty"]) for line in escrow.json()["results"]] == [
        (1_000_000, f"group:{CHAT}:available")
    ]


def test_filters_by_kind_date_range_and_counterparty(community, funds, client_for):
    alice, bob = user_account(community, ALICE), user_account(community, BOB)
    d1 = deposit(community, funds, 100)
    to_alice = move(community, funds, alice, 10, "adjustment")
    to_bob = move(community, funds, bob, 20, "adjustment")
    d2 = deposit(community, funds, 300)
    client = client_for(community, user_id=ADMIN)

    def transfers(**params) -> list[int]:
        response = client.get(_url(), {"currency": "USDT", **params})
        assert response.status_code == 200, response.content
        return [line["transfer_id"] for line in response.json()["results"]]

    assert transfers() == [d2.pk, to_bob.pk, to_alice.pk, d1.pk]
    assert transfers(kind="deposit") == [d2.pk, d1.pk]
    assert transfers(kind="adjustment,deposit") == [d2.pk, to_bob.pk, to_alice.pk, d1.pk]
    assert transfers(kind="payout") == []
    since, until = to_alice.created_at.isoformat(), d2.created_at.isoformat()
    assert transfers(since=since) == [d2.pk, to_bob.pk, to_alice.pk]
    assert transfers(until=until) == [to_bob.pk, to_alice.pk, d1.pk]
    assert transfers(since=since, until=until) == [to_bob.pk, to_alice.pk]
    assert transfers(counterparty=f"user:{BOB}:available") == [to_bob.pk]
    assert transfers(counterparty=f"user:{ALICE}:available", kind="deposit") == []
    assert transfers(counterparty="user:999:available") == []  # no such account
    assert transfers(since="2000-01-01", until="2000-01-02") == []
    assert transfers(kind="") == transfers()  # an empty optional parameter is not given


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"since": "yesterday"}, "invalid"),
        ({"until": "2026-13-45"}, "invalid"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "invalid_range"),
        ({"kind": "deposit,bribe"}, "unknown_kind"),
        ({"currency": "DOGE"}, "unknown_currency"),
        ({"account": "external"}, "invalid_choice"),
        ({"counterparty": "user:abc:available"}, "invalid_counterparty"),
        ({"counterparty": "user:99999999999999999999:available"}, "invalid_counterparty"),
        ({"counterparty": "alien:1:available"}, "invalid_counterparty"),
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
        ({"cursor": "cD1hYmM="}, "invalid_cursor"),  # p=abc: no entry number
        ({"cursor": "bz14"}, "invalid_cursor"),  # o=x
        ({"page_size": "0"}, "invalid_page_size"),
    ],
)
def test_bad_input_is_a_400_with_detail_and_code_and_writes_nothing(
    community, funds, client_for, params, code
):
    deposit(community, funds, 100)
    client = client_for(community, user_id=ADMIN)
    before = ledger_counts(), HistoryEntry.objects.count()
    for url in (_url(), "/api/v1/wallet/me/statement"):
        response = client.get(url, params)
        assert response.status_code == 400, (url, response.content)
        body = response.json()
        assert body["code"] == code and body["detail"], body
    assert (ledger_counts(), HistoryEntry.objects.count()) == before


def test_a_tampered_cursor_of_a_real_page_is_refused(community, funds, client_for):
    for n in range(3):
        deposit(community, funds, n + 1)
    client = client_for(community, user_id=ADMIN)
    following = client.get(_url(), {"currency": "USDT", "page_size": 1}).json()["next"]
    assert client.get(following).status_code == 200
    response = client.get(following.replace("cursor=", "cursor=x"))
    assert (response.status_code, response.json()["code"]) == (400, "invalid_cursor")


def test_another_tenants_group_is_not_found_and_a_member_is_refused(two_communities, client_for):
    a, b, b_chat = two_communities(
        CHAT, admin=ADMIN, b_user=ALICE, b_role="member", funds=("USDT", 500)
    )
    admin_of_a = client_for(a, user_id=ADMIN)

    for url in (_url(b_chat), _url(CHAT - 2)):  # B's group, and one bound nowhere
        response = admin_of_a.get(url)
        assert (response.status_code, response.json()["code"]) == (404, "group_not_found")
    assert admin_of_a.get(_url(CHAT)).status_code == 200
    # A member of B cannot read B's group's funds either.
    response = client_for(b, user_id=ALICE).get(_url(b_chat))
    assert response.status_code == 403


def test_a_user_sees_only_their_own_statement_in_this_tenant(make_community, client_for):
    a, b = make_community(), make_community()
    alice_here = deposit(a, user_account(a, ALICE, "XTR"), 5)
    deposit(a, user_account(a, BOB, "XTR"), 6)  # another user of A
    deposit(b, user_account(b, ALICE, "XTR"), 7)  # Alice in another community

    response = client_for(a, user_id=ALICE).get("/api/v1/wallet/me/statement")  # XTR: default

    assert response.status_code == 200, response.content
    lines = response.json()["results"]
    assert [(line["transfer_id"], line["amount"], line["currency"]) for line in lines] == [
        (alice_here.pk, 5, "XTR")
    ]
    # Someone with no account yet: an empty statement, and no account is created.
    before = ledger_counts()
    assert client_for(a, user_id=BOB + 1).get("/api/v1/wallet/me/statement").json()["results"] == []
    assert ledger_counts() == before


def test_the_schema_documents_the_statement_as_a_cursor_page_with_its_filters(db, client):
    schema = client.get("/api/schema/?format=json", HTTP_HOST="testserver").json()
    for path in ("/api/v1/wallet/me/statement", "/api/v1/wallet/groups/{chat_id}/statement"):
        operation = schema["paths"][path]["get"]
        parameters = {p["name"] for p in operation["parameters"]}
        assert {"cursor", "page_size", "currency", "account", "kind", "since", "until"} <= (
            parameters
        )
        assert "counterparty" in parameters
        page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert page.startswith("#/components/schemas/Paginated"), page
