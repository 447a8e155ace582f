"""``/xforward @handle [reposts] [replies] [quotes]``, ``/xunforward @handle`` and
``/xforwarding`` in a group: the X accounts the group forwards, through
``xfeed.services.forwarding`` (the handle looked up on X) and ``xfeed.selectors``."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from botruntime.context import in_tenant
from config.errors import ServiceError
from tenancy.models import Tenant
from xfeed import selectors, services
from xfeed.handlers.common import (
    error_text,
    list_command,
    remove_command,
    settings_manager_of,
)
from xfeed.models import Forwarding

OPTIONS = ("reposts", "replies", "quotes")
FORWARD_USAGE = (
    "Use /xforward @handle [reposts] [replies] [quotes]: forward the account's posts here "
    "(originals always; reposts, replies and quotes when named)."
)
UNFORWARD_USAGE = "Use /xunforward @handle: stop forwarding that account here."


def forwarding_line(forwarding: Forwarding) -> str:
    kinds = ["originals"] + [kind for kind in OPTIONS if getattr(forwarding, f"include_{kind}")]
    return f"@{forwarding.account.username}: {', '.join(kinds)}"


ALIASES = {
    "reposts": "reposts",
    "repost": "reposts",
    "retweets": "reposts",
    "replies": "replies",
    "reply": "replies",
    "quotes": "quotes",
    "quote": "quotes",
}


def forward_options(args: list[str]) -> dict[str, bool]:
    """The include_* flags of ``/xforward``'s words after the handle; ServiceError naming
    the bad word."""
    flags = {f"include_{kind}": False for kind in OPTIONS}
    for word in args:
        kind = ALIASES.get(word.lower().strip(","))
        if kind is None:
            raise ServiceError(
                f"options: {word!r} is not one of {', '.join(OPTIONS)}", code="invalid_option"
            )
        flags[f"include_{kind}"] = True
    return flags


async def on_xforward(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    found = await settings_manager_of(update, context)
    if found is None:
        return
    tenant, config, message = found.tenant, found.config, found.message
    args = context.args or []
    if not args:
        await message.reply_text(FORWARD_USAGE)
        return
    try:
        flags = forward_options(args[1:])
        forwarding = await in_tenant(
            tenant,
            services.forwarding_set,
            tenant=tenant,
            chat_id=config.chat_id,
            username=args[0],
            actor=found.actor,
            **flags,
        )
    except ServiceError as exc:
        await message.reply_text(error_text(f"forward {args[0]}", exc))
        return
    await message.reply_text(
        f"Forwarding to this group: {forwarding_line(forwarding)}. "
        "Tweet forwarding is on for this group."
    )


async def on_xunforward(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await remove_command(
        update,
        context,
        usage=UNFORWARD_USAGE,
        remove=services.forwarding_remove,
        field="username",
        what="stop forwarding {name}",
        done="Stopped forwarding @{name} to this group.",
    )


def _forwarding_lines(*, tenant: Tenant, chat_id: int) -> list[str]:
    qs = selectors.forwarding_list(tenant=tenant, chat_id=chat_id).order_by("id")
    return [forwarding_line(f) for f in qs]


async def on_xforwarding(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await list_command(
        update,
        context,
        lines=_forwarding_lines,
        empty="This group forwards no X account yet. " + FORWARD_USAGE,
        title="X accounts forwarded to this group:",
    )
