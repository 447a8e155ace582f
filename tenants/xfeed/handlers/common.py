"""Who may configure the X feed from a group: an administrator of that group (in the last
admin sync from Telegram, and confirmed by Telegram when the command comes) who also
holds ``manage_settings`` in the community, as the API asks. Anonymous admins post as the
group itself, so they are asked to send the command as themselves: nobody can be
checked behind the group's name."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from accounts.roles import Capability
from botruntime.context import in_tenant
from community.handlers.common import AdminCommand, group_admin_command
from config.errors import ServiceError

logger = logging.getLogger(__name__)

NOT_IN_GROUP = "Send this command in the group whose X feed you want to configure."
ANONYMOUS = "Send this command as yourself, not anonymously: only settings managers may use it."
NOT_ALLOWED = "Only the group's admins who manage this community's settings can do this."


# A command a settings manager sent in a bound group: where, and by whom.
Command = AdminCommand


async def settings_manager_of(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Command | None:
    """The command when the update is one in a bound group served by this bot, from one
    of its admins holding ``manage_settings``; else None, having replied why (silent in
    chats that are not the community's groups)."""
    return await group_admin_command(
        update,
        context,
        capability=Capability.MANAGE_SETTINGS,
        not_in_group=NOT_IN_GROUP,
        not_allowed=NOT_ALLOWED,
        anonymous=ANONYMOUS,
        event="xfeed.telegram",
    )


def error_text(what: str, exc: ServiceError) -> str:
    """``Could not <what>: <field>: <reason>.``"""
    return f"Could not {what}: {exc.message.rstrip('.')}."


async def remove_command(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    *,
    usage: str,
    remove: Callable[..., Any],
    field: str,
    what: str,
    done: str,
) -> None:
    """A command taking one name (``field``) that ``remove`` (a service of the group)
    deletes; ``what`` and ``done`` are the failure's and the answer's text, with
    ``{name}`` in them."""
    found = await settings_manager_of(update, context)
    if found is None:
        return
    args = context.args or []
    if len(args) != 1:
        await found.message.reply_text(usage)
        return
    name = args[0]
    try:
        await in_tenant(
            found.tenant,
            remove,
            tenant=found.tenant,
            chat_id=found.config.chat_id,
            actor=found.actor,
            **{field: name},
        )
    except ServiceError as exc:
        await found.message.reply_text(error_text(what.format(name=name), exc))
        return
    await found.message.reply_text(done.format(name=name.lstrip("@")))


async def list_command(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    *,
    lines: Callable[..., list[str]],
    empty: str,
    title: str,
) -> None:
    """A command answering the group's lines (``lines(tenant=, chat_id=)``) under
    ``title``, or ``empty`` when there are none."""
    found = await settings_manager_of(update, context)
    if found is None:
        return
    listed = await in_tenant(found.tenant, lines, tenant=found.tenant, chat_id=found.config.chat_id)
    await found.message.reply_text(f"{title}\n" + "\n".join(listed) if listed else empty)
