"""The policy for one group message: who is exempt, which rule it breaks, what moderation
does about it, and whether it counts for the leaderboard. The handler
(``community.handlers.messages``) parses the update, calls ``group_message_handle`` and
carries out the returned decision with its own bot.

This runs for every group message of every tenant, on the event loop: the common path
(no rule broken) costs the in-memory rule checks and a buffered leaderboard increment,
no database access and no thread hop. Only a message that breaks a rule goes to the
database (``moderation_violation_handle``, through ``in_tenant``), which is why this one
service is async.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from botruntime.context import in_tenant
from community.group_config import GroupConfig
from community.rules import MessageFacts
from community.services.groups import GROUP_ANONYMOUS_BOT_ID
from community.services.leaderboard import activity_count, message_xp
from community.services.moderation import Enforcement, moderation_violation_handle
from tenancy.models import Tenant

# Telegram posts linked-channel forwards as this user.
TELEGRAM_SERVICE_ID = 777000


@dataclass(frozen=True)
class GroupMessage:
    """A group message as the policy sees it, parsed from the update by the handler."""

    message_id: int
    user_id: int
    user_name: str
    username: str
    sender_is_bot: bool
    # Sent on behalf of a chat: a channel posting in the group, or an anonymous admin.
    on_behalf_of_chat: bool
    edited: bool
    facts: MessageFacts


@dataclass(frozen=True)
class MessageDecision:
    """What to do about one message. With ``enforcement`` the handler deletes the message,
    and mutes (until ``until``) or bans the sender when the action says so; a warning's
    or a mute's notice is already queued in the outbox. ``counted``: the message was
    buffered for the leaderboard."""

    enforcement: Enforcement | None = None
    counted: bool = False

    @property
    def delete(self) -> bool:
        return self.enforcement is not None

    @property
    def restrict(self) -> str | None:
        """ "mute", "ban" or None: what to do to the sender besides deleting."""
        action = self.enforcement.action if self.enforcement else None
        return action if action in ("mute", "ban") else None

    @property
    def until(self) -> datetime | None:
        return self.enforcement.until if self.enforcement else None


IGNORED = MessageDecision()


def _exempt(message: GroupMessage) -> bool:
    # Channels posting in the group, anonymous admins, bots: not members to count or police.
    return (
        message.sender_is_bot
        or message.on_behalf_of_chat
        or message.user_id in (GROUP_ANONYMOUS_BOT_ID, TELEGRAM_SERVICE_ID)
    )


async def group_message_handle(
    *, tenant: Tenant, config: GroupConfig, message: GroupMessage, bot_id: int
) -> MessageDecision:
    """Decide about one message of a bound group served by ``bot_id``: moderation first
    (group admins as last synced are exempt; edits are checked but do not feed the flood
    counter), then the leaderboard (not for edits, nor for a message moderation removed)."""
    if _exempt(message):
        return IGNORED
    if config.rules.enabled and message.user_id not in config.admin_ids:
        violation = config.rules.check(
            message.facts,
            flood_key=(config.schema_name, config.chat_id, message.user_id),
            count_flood=not message.edited,
        )
        if violation is not None:
            enforcement = await in_tenant(
                tenant,
                moderation_violation_handle,
                tenant=tenant,
                config=config,
                violation=violation,
                user_id=message.user_id,
                user_name=message.user_name,
                message_id=message.message_id,
                bot_id=bot_id,
            )
            if enforcement is not None:
                return MessageDecision(enforcement=enforcement)
    if not config.leaderboard or message.edited:
        return IGNORED
    # Buffered: the runtime writes the counts of many messages in one statement.
    activity_count(
        config=config,
        user_id=message.user_id,
        xp=message_xp(text_length=len(message.facts.text)),
        name=message.user_name,
        username=message.username,
    )
    return MessageDecision(counted=True)
