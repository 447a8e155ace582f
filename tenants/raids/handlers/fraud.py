"""``/flags``, ``/dismiss <flag id> [note]`` and ``/uphold <flag id> [note]`` in a bound
group, for its admins who hold ``manage_raids`` (the API's rule; Telegram confirms the
admin right when the command comes). The group sees the answers, so they stay short and
name only that group's raids' flags: the reason's detail is in the API's review queue."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.ext import ContextTypes

from botruntime.context import in_tenant
from config.errors import ServiceError
from history.services import Actor
from raids import fraud
from raids.handlers.raids import id_typed, raid_manager
from raids.models import Flag
from raids.services.fraud import NOTE_MAX, flag_decide
from tenancy.models import Tenant

logger = logging.getLogger(__name__)

NOT_IN_GROUP = "Send this command in the group whose raids you manage."
ANONYMOUS = "Send this command as yourself, not anonymously: only raid managers may use it."
MAX_LINES = 20
USAGE = "Use /{command} <flag id> [note], e.g. /{command} 12 checked with the user."


async def _manager(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[Tenant, int, Message, Actor] | None:
    return await raid_manager(update, context, not_in_group=NOT_IN_GROUP, anonymous=ANONYMOUS)


def flag_line(flag: Flag) -> str:
    who = f"user {flag.user_id}" if flag.user_id else "someone"
    return f"#{flag.pk} {flag.reason}: {who} in raid {flag.raid_id}"


def flags_text(*, tenant: Tenant, chat_id: int) -> str:
    flags = fraud.flag_list(tenant=tenant, status="open", chat_id=chat_id)
    total = flags.count()
    if not total:
        return "No open flags for this group's raids."
    lines = [f"Open flags ({total}), excluded until decided:"]
    lines += [flag_line(flag) for flag in flags[:MAX_LINES]]
    if total > MAX_LINES:
        lines.append(f"... and {total - MAX_LINES} more (the full queue: the API)")
    lines.append("Decide with /dismiss <id> [note] or /uphold <id> [note].")
    return "\n".join(lines)


async def on_flags(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    found = await _manager(update, context)
    if found is None:
        return
    tenant, chat_id, message, _ = found
    await message.reply_text(await in_tenant(tenant, flags_text, tenant=tenant, chat_id=chat_id))


async def _decide(update: Update, context: ContextTypes.DEFAULT_TYPE, command: str) -> None:
    found = await _manager(update, context)
    if found is None:
        return
    tenant, chat_id, message, actor = found
    args = context.args or []
    flag_id = id_typed(args[0]) if args else None
    if flag_id is None:
        await message.reply_text(USAGE.format(command=command))
        return
    note = " ".join(args[1:])[:NOTE_MAX]
    status = Flag.Status.DISMISSED if command == "dismiss" else Flag.Status.UPHELD
    try:
        flag = await in_tenant(
            tenant,
            flag_decide,
            tenant=tenant,
            flag_id=flag_id,
            status=status,
            note=note,
            actor=actor,
            chat_id=chat_id,
        )
    except ServiceError as exc:
        await message.reply_text(f"Could not {command} flag #{flag_id}: {exc.message.rstrip('.')}.")
        return
    after = "scores again" if flag.status == Flag.Status.DISMISSED else "stays excluded"
    await message.reply_text(f"Flag #{flag.pk} {flag.status}: user {flag.user_id} {after}.")


async def on_dismiss(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _decide(update, context, "dismiss")


async def on_uphold(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _decide(update, context, "uphold")
