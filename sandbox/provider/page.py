"""The page at ``/``: the provider's books as plain HTML (no script), refreshed every few
seconds: deposits, payouts, the events owed to the webhook with their delivery attempts,
and the payout outcomes still scripted."""

from __future__ import annotations

from html import escape
from typing import Any

from sandbox.provider.books import JSONDict

DEPOSIT_COLUMNS = ["id", "reference", "currency", "amount", "created", "event_id"]
PAYOUT_COLUMNS = [
    "id",
    "withdrawal_id",
    "currency",
    "amount",
    "destination",
    "status",
    "failure_code",
    "created",
]
EVENT_COLUMNS = ["id", "type", "reference", "created", "state", "attempts"]


def _table(title: str, rows: list[JSONDict], columns: list[str]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns) + "</tr>" for row in rows
    )
    empty = f'<tr><td colspan="{len(columns)}">none yet</td></tr>' if not rows else ""
    return (
        f"<h2>{escape(title)} ({len(rows)})</h2>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}{empty}</tbody></table>"
    )


def _cell(value: Any) -> str:
    return "" if value is None else escape(str(value))


def render(state: JSONDict) -> str:
    events = [
        {
            **e,
            "reference": e["data"].get("reference") or e["data"].get("withdrawal_id"),
            "attempts": ", ".join(
                f"{a['kind']} → {a['status'] or a['error']}" for a in e["attempts"]
            ),
        }
        for e in state["events"]
    ]
    outcomes = ", ".join(
        o["result"] + (f" then {o['then']}" if "then" in o else "") for o in state["outcomes"]
    )
    deposits = _table("Deposits", state["deposits"][::-1], DEPOSIT_COLUMNS)
    payouts = _table("Payouts", state["payouts"][::-1], PAYOUT_COLUMNS)
    events_table = _table("Events", events[::-1], EVENT_COLUMNS)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="3">
<title>Sandbox payment provider</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: .25em .6em; text-align: left; }}
th {{ background: #f3f3f3; }}
</style></head><body>
<h1>Sandbox payment provider</h1>
<p>Webhook: {_cell(state["webhook_url"]) or "not configured"}.
Scripted payout outcomes: {escape(outcomes) or "none (the default applies)"}.</p>
{deposits}
{payouts}
{events_table}
</body></html>
"""
