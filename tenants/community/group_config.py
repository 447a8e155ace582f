"""What the message path needs to know about a group, cached per process.

Every group message asks: is this chat a bound group of the tenant, which features are
on, who are its admins (exempt from moderation), what are its rules (compiled), which
time zone do its days follow. Answering that from the database for each message would
cost three queries; the answer is cached here for ``TTL_SECONDS``. Changes made through
this process (rules, settings) drop the entry when their transaction commits; changes in
other processes (another replica, an admin sync) show within the TTL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django_tenants.utils import tenant_context

from community.models import Group, GroupAdmin, ModerationRules
from community.rules import CompiledRules, rules_effective
from config.cache import MISS as MISS  # re-exported: the message path compares with it
from config.cache import TTLCache
from tenancy.connection import schema_connection
from tenancy.models import Tenant

TTL_SECONDS = 30.0


@dataclass(frozen=True)
class GroupConfig:
    schema_name: str
    group_pk: int
    chat_id: int
    title: str
    bot_id: int | None
    welcome: bool
    welcome_text: str
    leaderboard: bool
    timezone: tzinfo
    admin_ids: frozenset[int]
    rules: CompiledRules

    def served_by(self, bot_id: int) -> bool:
        """Is ``bot_id`` the bot this group was bound through (the one whose updates
        its config applies to)?"""
        return self.bot_id is not None and self.bot_id == bot_id

    @property
    def captcha(self) -> dict[str, Any]:
        return self.rules.document["captcha"]

    def today(self, now: datetime | None = None) -> date:
        """The group's local date: daily boards turn over at its midnight."""
        return (now or datetime.now(self.timezone)).astimezone(self.timezone).date()


# (schema name, chat id) -> the group's config, or None: not a bound group of that tenant.
CONFIGS: TTLCache[tuple[str, int], GroupConfig | None] = TTLCache(
    "community.group_configs", ttl=TTL_SECONDS, maxsize=50_000
)


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def group_config_load(*, tenant: Tenant, chat_id: int) -> GroupConfig | None:
    """The config of a bound group, from the database (None if ``chat_id`` is not a
    bound group of ``tenant``). Runs in the tenant's schema."""
    with tenant_context(tenant):
        group = (
            Group.objects.filter(chat_id=chat_id, is_active=True)
            .select_related("moderation_rules")
            .first()
        )
        if group is None:
            return None
        admin_ids = frozenset(
            GroupAdmin.objects.filter(group=group).values_list("telegram_id", flat=True)
        )
    try:
        stored = group.moderation_rules.rules
    except ModerationRules.DoesNotExist:
        stored = None
    features = group.effective_features
    return GroupConfig(
        schema_name=tenant.schema_name,
        group_pk=group.pk,
        chat_id=group.chat_id,
        title=group.title,
        bot_id=group.bot_id,
        welcome=features["welcome"],
        welcome_text=group.welcome_text,
        leaderboard=features["leaderboard"],
        timezone=_zone(group.timezone),
        admin_ids=admin_ids,
        rules=CompiledRules.build(rules_effective(stored, enabled=features["moderation"])),
    )


def group_config(*, tenant: Tenant, chat_id: int) -> GroupConfig | None:
    """The cached config (loaded on a miss). Sync: call through sync_to_async from async
    code, or use ``group_config_cached`` first."""
    key = (tenant.schema_name, chat_id)
    config = CONFIGS.get(key)
    if config is not MISS:
        return config
    read_at = CONFIGS.clock()
    config = group_config_load(tenant=tenant, chat_id=chat_id)
    CONFIGS.set(key, config, read_at=read_at)
    return config


def group_config_cached(*, schema_name: str, chat_id: int) -> Any:
    """The cached config without touching the database: a GroupConfig, None (known not
    to be a bound group), or ``MISS`` (not cached or stale). Safe on the event loop."""
    return CONFIGS.get((schema_name, chat_id))


def group_config_forget(*, schema_name: str | None = None, chat_id: int | None = None) -> None:
    """Drop cached configs: one group, one schema's, or all. Call it on commit of a change
    (``group_config_forget_on_commit``)."""
    if schema_name is None:
        CONFIGS.clear()
    elif chat_id is None:
        CONFIGS.forget_where(lambda key: key[0] == schema_name)
    else:
        CONFIGS.forget((schema_name, chat_id))


def group_config_forget_on_commit(*, chat_id: int | None = None) -> None:
    """Inside a tenant's transaction: forget this group's config now and again once the
    change commits (a message handled meanwhile may have cached the old state)."""
    schema_name = schema_connection.schema_name
    group_config_forget(schema_name=schema_name, chat_id=chat_id)
    transaction.on_commit(lambda: group_config_forget(schema_name=schema_name, chat_id=chat_id))


# Settings, bindings and admin syncs are written by community.services; rather than each
# writer remembering the cache, a save or delete of these rows forgets it (in this
# process; other processes within the TTL).
@receiver([post_save, post_delete], sender=Group)
def _group_changed(sender: Any, instance: Group, **kwargs: Any) -> None:
    group_config_forget_on_commit(chat_id=instance.chat_id)


@receiver([post_save, post_delete], sender=GroupAdmin)
def _group_admin_changed(sender: Any, instance: GroupAdmin, **kwargs: Any) -> None:
    group_config_forget_on_commit()  # the row knows its group's pk, not its chat id
