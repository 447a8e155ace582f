"""``/giveaway`` and ``/contest`` in a bound group. ``/giveaway`` lists the group's open
giveaways (with their commitments); ``/giveaway <id>`` enters the sender (the entry
conditions checked with Telegram and X by the service). ``/contest`` shows the standings
of the group's latest contest, ``/contest <id>`` of that one. Admins create, cancel and
draw through the API. Everything runs through ``in_tenant`` (never on the event loop)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from telegram import Update
from telegram.ext import ContextTypes

from accounts.models import TelegramUser
from accounts.services import user_touch
from botruntime.context import in_tenant
from community.handlers.common import group_command
from config.errors import ServiceError
from raids.handlers.raids import id_typed
from raids.models import Contest, Giveaway
from raids.selectors_giveaways import (
    contest_get,
    contest_latest,
    contest_standings,
    giveaway_get,
    giveaway_list,
)
from raids.services.giveaways import giveaway_enter
from tenancy.models import Tenant

NOT_IN_GROUP = "Send this command in the group."
ANONYMOUS = "Send this command as yourself, not anonymously."
GIVEAWAY_USAGE = "Usage: /giveaway (the open giveaways) or /giveaway <id> (enter one)."
CONTEST_USAGE = "Usage: /contest (the latest contest) or /contest <id>."
MAX_LINES = 20


def _open_giveaways(*, tenant: Tenant, chat_id: int) -> str:
    giveaways = list(giveaway_list(tenant=tenant, chat_id=chat_id, status="open")[:MAX_LINES])
    if not giveaways:
        return "No open giveaway in this group."
    lines = ["Open giveaways (enter with /giveaway <id>):"]
    for g in giveaways:
        conditions = [
            *(["members"] if g.members_only else []),
            *([f"{g.min_raid_points}+ raid points"] if g.min_raid_points else []),
            *(["X linked"] if g.x_linked else []),
        ]
        lines.append(
            f"#{g.pk} {g.title}: {g.winners} winner(s), {g.pool_amount} {g.currency} minor "
            f"units, draw {g.draw_at:%Y-%m-%d %H:%M} UTC"
            + (f" ({', '.join(conditions)})" if conditions else "")
            + f"; commitment {g.commitment[:16]}..."
        )
    return "\n".join(lines)


def _enter(*, tenant: Tenant, chat_id: int, giveaway_id: int, user: TelegramUser) -> Giveaway:
    giveaway = giveaway_get(tenant=tenant, chat_id=chat_id, giveaway_id=giveaway_id)
    giveaway_enter(tenant=tenant, giveaway=giveaway, user=user)
    return giveaway


async def on_giveaway(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    found = await group_command(update, context, not_in_group=NOT_IN_GROUP)
    if found is None:
        return
    tenant, config, message = found
    sender = update.effective_user
    args = context.args or []
    if not args:
        text = await in_tenant(tenant, _open_giveaways, tenant=tenant, chat_id=config.chat_id)
        await message.reply_text(text)
        return
    giveaway_id = id_typed(args[0]) if len(args) == 1 else None
    if giveaway_id is None:
        await message.reply_text(GIVEAWAY_USAGE)
        return
    if message.sender_chat is not None or sender is None:
        await message.reply_text(ANONYMOUS)
        return
    user = await sync_to_async(user_touch)(profile=sender.to_dict())
    try:
        giveaway = await in_tenant(
            tenant,
            _enter,
            tenant=tenant,
            chat_id=config.chat_id,
            giveaway_id=giveaway_id,
            user=user,
        )
    except ServiceError as exc:
        await message.reply_text(f"Could not enter: {exc.message.rstrip('.')}.")
        return
    await message.reply_text(
        f"{sender.first_name}, you are in giveaway #{giveaway.pk} ({giveaway.title}). "
        f"The draw is at {giveaway.draw_at:%Y-%m-%d %H:%M} UTC."
    )


def _standings_text(*, tenant: Tenant, chat_id: int, contest_id: int | None) -> str:
    if contest_id is None:
        contest = contest_latest(tenant=tenant, chat_id=chat_id)
        if contest is None:
            return "No EXP contest in this group yet."
    else:
        contest = contest_get(tenant=tenant, chat_id=chat_id, contest_id=contest_id)
    rows: list[dict[str, Any]]
    if contest.status == Contest.Status.SETTLED:
        rows, state = list(contest.standings), "final standings"
    else:
        rows = [
            {**s.as_dict(), "prize": 0} for s in contest_standings(tenant=tenant, contest=contest)
        ]
        state = f"standings so far (ends {contest.ends_at:%Y-%m-%d %H:%M} UTC)"
    lines = [f"EXP contest #{contest.pk} {contest.title}, {state}:"]
    for row in rows[:MAX_LINES]:
        prize = f" - {row['prize']} {contest.currency}" if row.get("prize") else ""
        lines.append(f"{row['rank']}. {row['name'] or row['user_id']}: {row['xp']} EXP{prize}")
    if not rows:
        lines.append("nobody has earned EXP yet.")
    return "\n".join(lines)


async def on_contest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    found = await group_command(update, context, not_in_group=NOT_IN_GROUP)
    if found is None:
        return
    tenant, config, message = found
    args = context.args or []
    contest_id = id_typed(args[0]) if len(args) == 1 else None
    if len(args) > 1 or (args and contest_id is None):
        await message.reply_text(CONTEST_USAGE)
        return
    try:
        text = await in_tenant(
            tenant,
            _standings_text,
            tenant=tenant,
            chat_id=config.chat_id,
            contest_id=contest_id,
        )
    except ServiceError as exc:
        text = f"Could not show the contest: {exc.message.rstrip('.')}."
    await message.reply_text(text)
