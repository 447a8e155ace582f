"""The CSV export: a header row, then every line matching the filters across pages, with
amounts as decimals by the currency's exponent and as raw minor units; streamed; bad
input and other tenants' groups refused as JSON errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.wallet.helpers import bind_group, deposit, group_account, ledger_counts, move
from wallet.models import Entry
from wallet.selectors import MAX_PAGE
from wallet.views.export import HEADER

CHAT = -1005570000001
ADMIN = 5701


def _url(chat_id: int = CHAT) -> str:
    return f"/api/v1/wallet/groups/{chat_id}/statement.csv"


@pytest.fixture
def manager(community, user_with_role, client_for):
    user_with_role(community, "admin", user_id=ADMIN)
    bind_group(community, CHAT)
    return client_for(community, user_id=ADMIN)


def _rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    reader = csv.reader(io.StringIO(text))
    assert next(reader) == HEADER
    return [dict(zip(HEADER, row, strict=True)) for row in reader]


def test_the_export_has_a_header_and_each_line_in_decimals_and_minor_units(community, manager):
    usdt = group_account(community, CHAT, "USDT")
    first = deposit(community, usdt, 1_500_000)
    payout = move(
        community,
        usdt,
        group_account(community, CHAT - 9, "USDT"),
        250_001,
        "adjustment",
        note='a, "b"',
    )

    response = manager.get(_url(), {"currency": "USDT"})

    assert response["Content-Disposition"] == f'attachment; filename="statement-{CHAT}-USDT.csv"'
    newest, oldest = _rows(response)
    assert newest == {
        "entry_id": str(Entry.objects.get(transfer_id=payout.pk, account=usdt).pk),
        "transfer_id": str(payout.pk),
        "created_at": payout.created_at.isoformat(),
        "kind": "adjustment",
        "currency": "USDT",
        "amount": "-0.250001",
        "amount_minor": "-250001",
        "balance_after": "1.249999",
        "balance_after_minor": "1249999",
        "counterparty": f"group:{CHAT - 9}:available",
        "metadata": '{"note":"a, \\"b\\""}',
    }
    assert json.loads(newest["metadata"]) == {"note": 'a, "b"'}
    assert (oldest["transfer_id"], oldest["amount"], oldest["amount_minor"]) == (
        str(first.pk),
        "1.5",
        "1500000",
    )


def test_the_export_covers_every_page_with_the_filters(community, manager):
    xtr = group_account(community, CHAT, "XTR")
    for n in range(MAX_PAGE + 5):  # more than one selector page
        deposit(community, xtr, n + 1)
    move(community, xtr, group_account(community, CHAT - 9, "XTR"), 3, "adjustment")

    response = manager.get(_url())  # XTR, the first configured currency
    chunks = list(response.streaming_content)
    assert len(chunks) == 1 + MAX_PAGE + 6  # a row at a time: never the whole file at once
    response.streaming_content = iter(chunks)
    rows = _rows(response)
    assert [int(row["amount_minor"]) for row in rows] == [-3, *range(MAX_PAGE + 5, 0, -1)]
    assert len({row["entry_id"] for row in rows}) == len(rows)
    deposits = _rows(manager.get(_url(), {"kind": "deposit"}))
    assert len(deposits) == MAX_PAGE + 5 and {row["kind"] for row in deposits} == {"deposit"}
    assert (
        _rows(manager.get(_url(), {"counterparty": f"group:{CHAT - 9}:available"}))[0][
            "amount_minor"
        ]
        == "-3"
    )
    assert _rows(manager.get(_url(), {"currency": "TON"})) == []  # no account: header only


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"since": "soon"}, "invalid"),
        ({"kind": "theft"}, "unknown_kind"),
        ({"currency": "GBP"}, "unknown_currency"),
    ],
)
def test_bad_input_is_a_json_400_even_to_a_client_asking_for_csv(community, manager, params, code):
    deposit(community, group_account(community, CHAT, "XTR"), 5)
    before = ledger_counts()
    response = manager.get(_url(), params, HTTP_ACCEPT="text/csv")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code and response.json()["detail"]
    assert ledger_counts() == before


def test_another_tenants_group_is_not_exported(make_community, user_with_role, client_for):
    a, b = make_community(), make_community()
    user_with_role(a, "owner", user_id=ADMIN)
    b_chat = bind_group(b, CHAT - 1)
    deposit(b, group_account(b, b_chat, "XTR"), 77)
    response = client_for(a, user_id=ADMIN).get(_url(b_chat), HTTP_ACCEPT="text/csv")
    assert (response.status_code, response.json()["code"]) == (404, "group_not_found")


def test_the_schema_documents_the_export_as_csv(db, client):
    schema = client.get("/api/schema/?format=json", HTTP_HOST="testserver").json()
    operation = schema["paths"]["/api/v1/wallet/groups/{chat_id}/statement.csv"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"text/csv"}
    assert {"currency", "kind", "since", "until", "counterparty"} <= {
        p["name"] for p in operation["parameters"]
    }
