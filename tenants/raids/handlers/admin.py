"""The group admins' commands for giveaways, contests and a raid's results (holding
``manage_raids``, confirmed by Telegram when the command comes; the API's operations):
``/newgiveaway``, ``/drawgiveaway``, ``/newcontest`` and ``/results``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from telegram import Update
from telegram.ext import ContextTypes

from config.errors import ServiceError
from config.numbers import whole_number
from history.services import Actor
from raids import selectors
from raids.handlers.raids import manager_act, manager_create
from raids.selectors_giveaways import giveaway_get
from raids.services.contests import contest_create
from raids.services.giveaways import DrawOutcome, giveaway_create, giveaway_draw
from tenancy.models import Tenant
from wallet.currencies import amount_format, amount_parse, currencies

NEWGIVEAWAY_USAGE = (
    "Usage: /newgiveaway <pool> <currency> <winners> <minutes to the draw> [title], "
    "e.g. /newgiveaway 50 USDT 3 60 Launch week"
)
DRAW_USAGE = "Usage: /drawgiveaway <id> (at or after its draw time)"
NEWCONTEST_USAGE = (
    "Usage: /newcontest <prizes, first first> <currency> <hours> [title], "
    "e.g. /newcontest 30,20,10 USDT 168 Most active of the week"
)
RESULTS_USAGE = "Usage: /results <raid id>"
MAX_MINUTES = 30 * 24 * 60
MAX_HOURS = 31 * 24


def _amount(value: str, currency: str, field: str) -> int:
    try:
        return amount_parse(value, currency)
    except ValueError as exc:
        raise ServiceError(f"{field}: {exc}", code="invalid") from None


def _currency(value: str) -> str:
    currency = value.upper()
    if currency not in currencies():
        raise ServiceError(f"currency: one of {', '.join(sorted(currencies()))}", code="invalid")
    return currency


def _whole(value: str, field: str, high: int) -> int:
    typed = whole_number(value)
    if typed is None or not 1 <= typed <= high:
        raise ServiceError(f"{field}: a number from 1 to {high}", code="invalid")
    return typed


def newgiveaway_terms(args: list[str]) -> dict[str, Any]:
    """giveaway_create's fields from /newgiveaway's words; ServiceError naming the field."""
    if len(args) < 4:
        raise ServiceError(NEWGIVEAWAY_USAGE, code="usage")
    currency = _currency(args[1])
    minutes = _whole(args[3], "minutes", MAX_MINUTES)
    return {
        "pool_amount": _amount(args[0], currency, "pool"),
        "currency": currency,
        "winners": _whole(args[2], "winners", 1000),
        "draw_at": timezone.now() + timedelta(minutes=minutes),
        "title": " ".join(args[4:]) or "Giveaway",
    }


def newcontest_terms(args: list[str]) -> dict[str, Any]:
    """contest_create's fields from /newcontest's words; ServiceError naming the field."""
    if len(args) < 3:
        raise ServiceError(NEWCONTEST_USAGE, code="usage")
    currency = _currency(args[1])
    prizes = [_amount(p, currency, "prizes") for p in args[0].split(",") if p]
    hours = _whole(args[2], "hours", MAX_HOURS)
    now = timezone.now()
    return {
        "prizes": prizes,
        "currency": currency,
        "starts_at": now,
        "ends_at": now + timedelta(hours=hours),
        "title": " ".join(args[3:]) or "EXP contest",
    }


async def on_newgiveaway(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    done = await manager_create(
        update, context, terms=newgiveaway_terms, create=giveaway_create, what="open the giveaway"
    )
    if done is None:
        return
    giveaway, message = done
    await message.reply_text(
        f"Giveaway #{giveaway.pk} open: {amount_format(giveaway.pool_amount, giveaway.currency)} "
        f"for {giveaway.winners} winner(s), drawn {giveaway.draw_at:%Y-%m-%d %H:%M} UTC."
    )


def _draw(*, tenant: Tenant, chat_id: int, record_id: int, actor: Actor) -> DrawOutcome:
    giveaway = giveaway_get(tenant=tenant, chat_id=chat_id, giveaway_id=record_id)
    return giveaway_draw(tenant=tenant, giveaway=giveaway, actor=actor)


async def on_drawgiveaway(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    done = await manager_act(
        update, context, usage=DRAW_USAGE, act=_draw, failed="Could not draw giveaway #{id}"
    )
    if done is None:
        return
    drawn, message = done
    await message.reply_text(
        f"Giveaway #{drawn.giveaway.pk} drawn: {len(drawn.winners)} winner(s); the draw is "
        "published."
    )


async def on_newcontest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    done = await manager_create(
        update, context, terms=newcontest_terms, create=contest_create, what="open the contest"
    )
    if done is None:
        return
    contest, message = done
    prizes = ", ".join(amount_format(p, contest.currency) for p in contest.prizes)
    await message.reply_text(
        f"Contest #{contest.pk} open until {contest.ends_at:%Y-%m-%d %H:%M} UTC; prizes: {prizes}."
    )


def results_text(*, tenant: Tenant, chat_id: int, raid_id: int) -> str:
    """A raid's results for its admins: counters, results by status, what was paid."""
    summary = selectors.raid_results_summary(tenant=tenant, chat_id=chat_id, raid_id=raid_id)
    raid = summary.raid
    lines = [
        f"Raid #{raid.pk} ({raid.status}): {raid.participants_count} participant(s), "
        f"{summary.excluded} excluded by anti-fraud",
        "Tasks: "
        + ", ".join(
            f"{summary.by_status.get(status, 0)} {status}"
            for status in ("verified", "unverifiable", "failed", "pending")
        ),
        f"Paid: {amount_format(summary.paid, raid.currency)} of "
        f"{amount_format(raid.pool_amount, raid.currency)}",
    ]
    if raid.report_sha256:
        lines.append(f"Report SHA-256: {raid.report_sha256}")
    return "\n".join(lines)


def _results(*, tenant: Tenant, chat_id: int, record_id: int, actor: Actor) -> str:
    return results_text(tenant=tenant, chat_id=chat_id, raid_id=record_id)


async def on_results(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    done = await manager_act(
        update, context, usage=RESULTS_USAGE, act=_results, failed="Could not read raid #{id}"
    )
    if done is not None:
        text, message = done
        await message.reply_text(text)
