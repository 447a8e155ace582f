"""What every bot handler needs: the update's tenant, and a way to run sync Django code
inside that tenant's schema without blocking the event loop.

    tenant = await tenant_of(update, context)
    if tenant is None:
        return
    result = await in_tenant(tenant, services.thing_do, tenant=tenant, ...)

A write that must not happen twice when the update is run again after a crash (a toggle,
an append) goes through ``in_tenant_once``: the update is recorded done in the write's
own transaction.

``tenant_of`` resolves once per update (``botruntime.selectors.tenant_resolve``: the
bot's own tenant, else the chat's binding for the platform bot, else a ``/start``
deep-link payload) and caches the answer on the context, which python-telegram-bot
shares between the handlers of one update. Every group message asks, and the answer
changes rarely: a community's answer is also kept per (bot, chat) for
``TENANT_TTL_SECONDS`` (a suspension silences the bot within that time; the runtime
also releases a suspended community's bot within a minute).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import transaction
from django_tenants.utils import tenant_context
from telegram import Update
from telegram.ext import CallbackContext

from botruntime.selectors import tenant_resolve
from botruntime.services import updates_done
from config.cache import MISS, TTLCache
from tenancy.models import Tenant

T = TypeVar("T")

_CACHE_ATTR = "bragabot_tenant"
_UNSET = object()


def start_payload(update: Update) -> str | None:
    """The deep-link payload of a ``/start <payload>`` message, if this is one."""
    message = update.effective_message
    text = (message.text or "") if message is not None else ""
    command, _, rest = text.partition(" ")
    if command.split("@", 1)[0] != "/start":
        return None
    return rest.strip() or None


TENANT_TTL_SECONDS = 30.0
# (bot id, chat id) -> the community it serves there; never None nor the public tenant.
TENANTS: TTLCache[tuple[int, int | None], Tenant] = TTLCache(
    "botruntime.tenants", ttl=TENANT_TTL_SECONDS, maxsize=50_000
)


def tenants_forget() -> None:
    """Drop the (bot, chat) answers kept by ``tenant_of``."""
    TENANTS.clear()


async def tenant_of(update: Update, context: CallbackContext) -> Tenant | None:
    """The tenant this update belongs to (None: nobody's, or a suspended tenant's)."""
    cached = getattr(context, _CACHE_ATTR, _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]  # set below only: a Tenant or None
    chat = update.effective_chat
    chat_id = chat.id if chat is not None else None
    payload = start_payload(update)
    key = (context.bot.id, chat_id)
    tenant = TENANTS.get(key) if payload is None else MISS
    if tenant is MISS:
        read_at = TENANTS.clock()
        tenant = await sync_to_async(tenant_resolve)(
            bot_id=context.bot.id, chat_id=chat_id, start_payload=payload
        )
        # Not the public tenant: a group the platform bot serves may be bound any moment.
        if payload is None and tenant is not None and not tenant.is_public:
            TENANTS.set(key, tenant, read_at=read_at)
    setattr(context, _CACHE_ATTR, tenant)
    return tenant


def _in_tenant(tenant: Tenant, func: Callable[..., T], /, **kwargs: Any) -> T:
    with tenant_context(tenant):
        return func(**kwargs)


async def in_tenant(tenant: Tenant, func: Callable[..., T], /, **kwargs: Any) -> T:
    """``func(**kwargs)`` inside ``tenant``'s schema, on Django's database thread (through
    ``sync_to_async``), never on the event loop."""
    return await sync_to_async(_in_tenant)(tenant, func, **kwargs)


def _in_tenant_once(
    tenant: Tenant, bot_id: int, update_id: int, func: Callable[..., T], /, **kwargs: Any
) -> T:
    with tenant_context(tenant), transaction.atomic():
        updates_done(updates=[(bot_id, update_id)])
        return func(**kwargs)


async def in_tenant_once(
    tenant: Tenant, update: Update, func: Callable[..., T], /, **kwargs: Any
) -> T:
    """``in_tenant``, with ``update`` recorded done in the same transaction as ``func``'s
    writes: if the process dies before that commits, the update is run again and so is
    ``func``; once it has committed, the update is never run again. What the handler does
    after it (its reply) is then at most once."""
    bot_id = update.get_bot().id
    return await sync_to_async(_in_tenant_once)(tenant, bot_id, update.update_id, func, **kwargs)
