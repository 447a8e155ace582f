"""The raids commands. Anyone: ``/raid`` (in a group: its active raids; in private: the
community's), ``/progress`` (private: one's tasks in the active raids one joined),
``/start raid_<id>`` (the announcement's "Join" deep link). The group's raid managers:
``/newraid <post url> <pool> <currency> [minutes]`` and ``/cancelraid <id>``. Services
run through ``in_tenant`` (never on the event loop); a refusal is answered with its
reason."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.utils import timezone
from telegram import Chat, Message, Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from accounts.models import TelegramUser
from accounts.roles import Capability
from accounts.services import user_start
from botruntime.context import in_tenant
from community.handlers.common import GROUP_CHATS, community_of, group_admin_command, group_of
from community.selectors import group_list
from config.errors import ServiceError
from config.numbers import whole_number
from history.services import Actor
from raids import selectors
from raids.models import Raid
from raids.services.participation import progress_text, raid_join
from raids.services.raids import money, raid_cancel, raid_create
from tenancy.models import Tenant
from wallet.currencies import amount_parse, currencies

logger = logging.getLogger(__name__)

Done = TypeVar("Done")

JOIN = re.compile(r"^(?:[a-z0-9-]+_)?raid_(?P<id>[0-9]{1,18})$")
DEFAULT_MINUTES, MAX_MINUTES = 60, 30 * 24 * 60
DEFAULT_TASKS = [
    {"kind": "repost", "points": 10},
    {"kind": "like", "points": 5},
    {"kind": "reply", "points": 10},
]
NEWRAID_USAGE = (
    "Use /newraid <post url> <pool> <currency> [minutes]: a raid on that X post with "
    f"repost (10), like (5) and reply (10), paid from the group's funds; {DEFAULT_MINUTES} "
    "minutes by default. E.g. /newraid https://x.com/project/status/123 50 USDT 120"
)
CANCEL_USAGE = "Use /cancelraid <raid id>: cancel a raid; its pool goes back to the group."
NOT_ALLOWED = "Only the group's admins who manage this community's raids can do this."
ANONYMOUS = "Send this command as yourself, not anonymously."
HINTS = {
    "not_linked": "Link your X account first with /linkx, then press Join again.",
    "link_unconfirmed": "Link your X account again with /linkx here, then press Join again.",
}


def raid_line(raid: Raid) -> str:
    name = raid.title or f"@{raid.post_author_username}"
    left = max(timedelta(0), raid.ends_at - timezone.now())
    minutes = int(left.total_seconds() // 60)
    return (
        f"#{raid.pk} {name}: {raid.participants_count} joined, "
        f"{raid.verified_count} tasks verified, pool {money(raid.pool_amount, raid.currency)}, "
        f"ends in {minutes // 60} h {minutes % 60} min\n{raid.post_url}"
    )


def raids_text(raids: list[Raid]) -> str:
    if not raids:
        return "No active raids right now."
    return "Active raids:\n" + "\n".join(raid_line(raid) for raid in raids)


def _active_raids(*, tenant: Tenant, chat_id: int | None) -> list[Raid]:
    chat_ids = [chat_id] if chat_id is not None else None
    if chat_ids is None:
        chat_ids = list(group_list(tenant=tenant).values_list("chat_id", flat=True))
    return selectors.raids_active_in(tenant=tenant, chat_ids=chat_ids)


async def on_raid(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    if chat.type in GROUP_CHATS:
        tenant, config = await group_of(update, context)
        if tenant is None or config is None:
            return
        chat_id: int | None = config.chat_id
    else:
        tenant = await community_of(update, context)
        if tenant is None:
            return
        chat_id = None
    raids = await in_tenant(tenant, _active_raids, tenant=tenant, chat_id=chat_id)
    await message.reply_text(raids_text(raids))


def _progress(*, tenant: Tenant, user_id: int) -> str:
    joined = list(
        selectors.raids_of_user(tenant=tenant, user_id=user_id).filter(
            raid__status=Raid.Status.ACTIVE
        )
    )
    if not joined:
        return "You have not joined any active raid. Send /raid to see them."
    texts = []
    for participant in joined:
        results = selectors.participant_progress(tenant=tenant, participant=participant)
        texts.append(progress_text(participant.raid, results))
    return "\n\n".join(texts)


async def on_progress(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, chat, sender = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or sender is None:
        return
    if chat.type != Chat.PRIVATE:
        await message.reply_text("Send /progress to me in a private chat.")
        return
    tenant = await community_of(update, context)
    if tenant is None:
        return
    text = await in_tenant(tenant, _progress, tenant=tenant, user_id=sender.id)
    await message.reply_text(text)


def _join(*, tenant: Tenant, raid_id: int, user: TelegramUser) -> str:
    """Join (a bot update: Telegram vouches for the user); the answer's text."""
    raid = selectors.raid_get(tenant=tenant, raid_id=raid_id)
    participant, created = raid_join(tenant=tenant, raid=raid, user=user, confirmed=True)
    results = selectors.participant_progress(tenant=tenant, participant=participant)
    head = "You joined" if created else "You already joined"
    return (
        f"{head} raid #{raid.pk} as @{participant.x_username}.\n"
        f"{progress_text(raid, results)}\n{raid.post_url}"
    )


async def on_start_join(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/start raid_<id>`` in private: join. The core /start does not answer after it
    (ApplicationHandlerStop); the user is registered as it would have."""
    message, chat, sender = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or sender is None or sender.is_bot:
        return
    match = JOIN.match(" ".join(context.args or []))
    tenant = await community_of(update, context)
    if match is None or tenant is None or chat.type != Chat.PRIVATE:
        return  # the core /start answers
    user = await sync_to_async(user_start)(
        tenant=tenant, profile=sender.to_dict(), bot_id=context.bot.id, private_chat=True
    )
    try:
        text = await in_tenant(
            tenant, _join, tenant=tenant, raid_id=int(match.group("id")), user=user
        )
    except ServiceError as exc:
        text = f"Could not join: {exc.message.rstrip('.')}.\n{HINTS.get(exc.code, '')}".strip()
    await message.reply_text(text)
    raise ApplicationHandlerStop


# ---- raid managers -----------------------------------------------------------------------
async def raid_manager(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    *,
    not_in_group: str = "Send this command in the group the raid is for.",
    anonymous: str = ANONYMOUS,
) -> tuple[Tenant, int, Message, Actor] | None:
    """(community, group chat id, message, actor) when a group admin holding
    ``manage_raids`` (as Telegram confirms now) sent the command; else None, answered."""
    command = await group_admin_command(
        update,
        context,
        capability=Capability.MANAGE_RAIDS,
        not_in_group=not_in_group,
        not_allowed=NOT_ALLOWED,
        anonymous=anonymous,
        event="raids.telegram",
    )
    if command is None:
        return None
    return command.tenant, command.config.chat_id, command.message, command.actor


def id_typed(word: str) -> int | None:
    """The id of a raid, giveaway, contest or flag as people type it ("12" or "#12": ASCII
    digits, at most 18 so that it fits a bigint); None for anything else."""
    return whole_number(word.removeprefix("#"))


async def manager_create(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    *,
    terms: Callable[[list[str]], dict[str, Any]],
    create: Callable[..., Done],
    what: str,
    keyed: bool = False,
) -> tuple[Done, Message] | None:
    """A raid manager's creation command: ``terms`` reads the command's words (its
    ``usage`` refusal is answered as it is), ``create`` runs in the community with the
    group and the actor (``keyed``: and the message as its idempotency key, so a
    redelivered update creates nothing twice). (created, message); None once answered."""
    found = await raid_manager(update, context)
    if found is None:
        return None
    tenant, chat_id, message, actor = found
    try:
        fields = terms(list(context.args or []))
        if keyed:
            fields["idempotency_key"] = f"tg:{message.chat_id}:{message.message_id}"
        created = await in_tenant(
            tenant, create, tenant=tenant, chat_id=chat_id, actor=actor, **fields
        )
    except ServiceError as exc:
        text = exc.message if exc.code == "usage" else f"Could not {what}: {exc.message}"
        await message.reply_text(text)
        return None
    return created, message


async def manager_act(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    *,
    usage: str,
    act: Callable[..., Done],
    failed: str,
) -> tuple[Done, Message] | None:
    """A raid manager's command on one record, ``/<command> <id>``: ``act(tenant=,
    chat_id=, record_id=, actor=)`` runs in the community; a refusal is answered as
    ``failed`` (formatted with the ``id``) and its reason. (result, message); None once
    answered."""
    found = await raid_manager(update, context)
    if found is None:
        return None
    tenant, chat_id, message, actor = found
    args = context.args or []
    target = id_typed(args[0]) if len(args) == 1 else None
    if target is None:
        await message.reply_text(usage)
        return None
    try:
        done = await in_tenant(
            tenant, act, tenant=tenant, chat_id=chat_id, record_id=target, actor=actor
        )
    except ServiceError as exc:
        await message.reply_text(f"{failed.format(id=target)}: {exc.message}")
        return None
    return done, message


def newraid_terms(args: list[str]) -> dict[str, Any]:
    """raid_create's fields from /newraid's words; ServiceError naming the field."""
    if len(args) not in (3, 4):
        raise ServiceError(NEWRAID_USAGE, code="usage")
    url, amount, currency = args[0], args[1], args[2].upper()
    if currency not in currencies():
        raise ServiceError(f"currency: one of {', '.join(sorted(currencies()))}", code="invalid")
    try:
        pool = amount_parse(amount, currency)
    except ValueError as exc:
        raise ServiceError(f"pool: {exc}", code="invalid") from None
    minutes = DEFAULT_MINUTES
    if len(args) == 4:
        typed = whole_number(args[3])
        if typed is None or not 1 <= typed <= MAX_MINUTES:
            raise ServiceError(f"minutes: a number from 1 to {MAX_MINUTES}", code="invalid")
        minutes = typed
    now = timezone.now()
    return {
        "post_url": url,
        "pool_amount": pool,
        "currency": currency,
        "starts_at": now,
        "ends_at": now + timedelta(minutes=minutes),
        "tasks": [dict(task) for task in DEFAULT_TASKS],
        "formula": "points",
    }


async def on_newraid(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    done = await manager_create(
        update, context, terms=newraid_terms, create=raid_create, what="create the raid", keyed=True
    )
    if done is None:
        return
    (raid, _), message = done
    await message.reply_text(
        f"Raid #{raid.pk} created on @{raid.post_author_username}'s post, pool "
        f"{money(raid.pool_amount, raid.currency)}; the announcement follows."
    )


def _cancel(*, tenant: Tenant, chat_id: int, record_id: int, actor: Actor) -> Raid:
    raid = selectors.raid_get(tenant=tenant, raid_id=record_id, chat_id=chat_id)
    return raid_cancel(tenant=tenant, raid=raid, actor=actor)


async def on_cancelraid(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    done = await manager_act(
        update, context, usage=CANCEL_USAGE, act=_cancel, failed="Could not cancel raid #{id}"
    )
    if done is None:
        return
    raid, message = done
    await message.reply_text(
        f"Raid #{raid.pk} cancelled; {money(raid.pool_amount, raid.currency)} went back to "
        "the group."
    )
