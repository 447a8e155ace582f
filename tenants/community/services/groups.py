"""Writes for a tenant's groups: binding, admin sync, settings, link codes.

Binding touches both sides of the schema line in one transaction: the public ChatBinding
(through tenancy.services, which keeps one tenant per chat) and the Group row in the
tenant's schema. Telegram is called outside transactions, so no row lock is held while
waiting on the network.

Who may bind a group by adding the bot: a Telegram admin of a bound group becomes an
``admin`` of the whole community (funds, raids, settings), so adding the bot is not
enough on its own: the person who adds it must already hold ``manage_settings`` here
(the owner is named when the community is created; nobody claims an ownerless one).
Everyone else binds with a link code from the Mini App, which proves both sides: the
code's creator still manages the community when it is used, and the sender is verified
as an administrator of the chat through Telegram.

Nothing in an update is believed: before either way binds, Telegram confirms that the
chat is a group or supergroup (getChat), that the bot is in it (getChatMember of the bot
itself) and who administers it (getChatAdministrators), so a forged ``my_chat_member``
or a member adding a brand's bot to someone else's group binds nothing.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any, TypeVar
from zoneinfo import available_timezones

from django.db import IntegrityError, transaction
from django.utils import timezone as dj_timezone
from django_tenants.utils import tenant_context

import history.services as history
from accounts.models import TelegramUser
from accounts.roles import Capability, Role
from accounts.selectors import user_capabilities, user_get
from accounts.services import membership_demote, membership_set_role, user_touch
from community import botapi
from community.botapi import GroupFacts
from community.models import FEATURE_DEFAULTS, Group, GroupAdmin, LinkCode
from community.selectors import bound_group_get, community_check
from config.errors import ServiceError
from history.services import SYSTEM, Actor
from tenancy.models import Bot, Tenant
from tenancy.selectors import bot_get, chat_tenant, tenant_bots
from tenancy.services import chat_bind, chat_unbind

logger = logging.getLogger(__name__)

LINK_CODE_TTL = timedelta(minutes=15)
# No 0/O or 1/I: codes are read off a screen and typed into Telegram.
LINK_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LINK_CODE_LENGTH = 8
LINK_CODE_KEEP = timedelta(days=1)  # expired codes are kept this long, then swept
# Telegram sends messages of anonymous group admins from this bot's account.
GROUP_ANONYMOUS_BOT_ID = 1087968824

LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
TITLE_MAX_LENGTH = 255
WELCOME_TEXT_MAX_LENGTH = 4096  # Telegram's limit for one message


@dataclass(frozen=True)
class AdminsSummary:
    """What an admin sync changed, as Telegram user ids."""

    added: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    synced_at: datetime | None = None


@dataclass(frozen=True)
class BindResult:
    group: Group
    newly_bound: bool
    admins: AdminsSummary


# ---- helpers ---------------------------------------------------------------------------
def _tenant_bot(tenant: Tenant, bot_id: int) -> Bot:
    bot = bot_get(tenant=tenant, bot_id=bot_id)
    if bot is None:
        raise ServiceError(f"bot {bot_id} does not serve this community", code="unknown_bot")
    return bot


def _bot_token(tenant: Tenant, bot_id: int | None, *, strict: bool = False) -> str:
    """The token of ``bot_id`` if the tenant holds it; else (unless ``strict``) of any
    of the tenant's bots."""
    bots = [(bid, token) for bid, token in tenant_bots(tenant=tenant) if token]
    for bid, token in bots:
        if bid == bot_id:
            return token
    if bots and not strict:
        return bots[0][1]
    raise ServiceError(
        "the platform holds no token for this community's bot, so it cannot ask Telegram",
        code="no_bot_token",
        status=409,
    )


def _bound_elsewhere_check(tenant: Tenant, chat_id: int) -> None:
    owner = chat_tenant(chat_id=chat_id)
    if owner is not None and owner.pk != tenant.pk:
        raise ServiceError(
            "this chat is already bound to another tenant", code="chat_bound_elsewhere"
        )


def _group_bind(
    *,
    tenant: Tenant,
    bot: Bot,
    chat_id: int,
    title: str,
    actor: Actor,
    via: str,
    data: dict[str, Any] | None = None,
) -> tuple[Group, bool]:
    """Bind ``chat_id`` on both sides; inside the caller's transaction and tenant schema.
    Returns the group and whether it was not bound before."""
    chat_bind(tenant=tenant, chat_id=chat_id, title=title, bot=bot, actor=actor)
    now = dj_timezone.now()
    group, created = Group.objects.select_for_update().get_or_create(
        chat_id=chat_id,
        defaults={"title": title[:TITLE_MAX_LENGTH], "bot_id": bot.telegram_id, "bound_at": now},
    )
    newly_bound = created or not group.is_active
    if not created:
        group.title = title[:TITLE_MAX_LENGTH] or group.title
        group.bot_id = bot.telegram_id
        if not group.is_active:
            group.is_active = True
            group.bound_at = now
        group.save(update_fields=["title", "bot_id", "is_active", "bound_at", "updated_at"])
    if newly_bound:
        history.record(
            action="group.bound",
            actor=actor,
            tenant=tenant,
            target=("chat", chat_id),
            data={"via": via, "title": title, "bot_id": bot.telegram_id, **(data or {})},
        )
    return group, newly_bound


def _admin_remove(
    *, tenant: Tenant, group: Group, row: GroupAdmin, actor: Actor, request: Any = None
) -> None:
    """Drop one GroupAdmin row; demote the user unless they still administer another of
    the tenant's bound groups (the role is per tenant, not per group)."""
    telegram_id = row.telegram_id
    row.delete()
    history.record(
        action="group.admin_removed",
        actor=actor,
        tenant=tenant,
        target=("user", telegram_id),
        data={"chat_id": group.chat_id, "status": row.status},
        request=request,
    )
    still_admin = (
        GroupAdmin.objects.filter(telegram_id=telegram_id, group__is_active=True)
        .exclude(group=group)
        .exists()
    )
    user = user_get(telegram_id=telegram_id)
    if user is not None and not still_admin:
        membership_demote(
            tenant=tenant,
            user=user,
            from_role=Role.ADMIN,
            actor=actor,
            reason=f"no longer an administrator of chat {group.chat_id}",
        )


def _admins_sync(
    *,
    tenant: Tenant,
    group: Group,
    admins: list[botapi.ChatAdmin],
    actor: Actor,
    request: Any = None,
) -> AdminsSummary:
    """Make the group's GroupAdmin rows and the members' roles match ``admins``.
    Inside the tenant schema; one transaction; idempotent."""
    people = {a.telegram_id: a for a in admins if not a.is_bot}
    added: list[int] = []
    removed: list[int] = []
    unchanged: list[int] = []
    with transaction.atomic():
        # Lock order: group, then its admin rows, then memberships (accounts).
        group = Group.objects.select_for_update().get(pk=group.pk)
        existing = {
            row.telegram_id: row
            for row in GroupAdmin.objects.select_for_update().filter(group=group)
        }
        for telegram_id, admin in people.items():
            values = {
                "status": admin.status,
                "custom_title": admin.custom_title[:64],
                "can_restrict_members": admin.can_restrict_members,
                "can_delete_messages": admin.can_delete_messages,
                "can_promote_members": admin.can_promote_members,
            }
            row = existing.get(telegram_id)
            if row is None:
                GroupAdmin.objects.create(group=group, telegram_id=telegram_id, **values)
                added.append(telegram_id)
                history.record(
                    action="group.admin_added",
                    actor=actor,
                    tenant=tenant,
                    target=("user", telegram_id),
                    data={"chat_id": group.chat_id, "status": admin.status},
                    request=request,
                )
            else:
                changed = [key for key, value in values.items() if getattr(row, key) != value]
                for key in changed:
                    setattr(row, key, values[key])
                row.save(update_fields=[*changed, "synced_at"])
                unchanged.append(telegram_id)
            # Known users keep their profile and last_seen; new ones are registered.
            user = user_get(telegram_id=telegram_id) or user_touch(profile=admin.profile())
            # Also for unchanged admins: heals a role lost to a concurrent sync elsewhere.
            membership_set_role(
                tenant=tenant,
                user=user,
                role=Role.ADMIN,
                actor=actor,
                only_upgrade=True,
                reason=f"Telegram {admin.status} of chat {group.chat_id}",
            )
        for telegram_id, row in existing.items():
            if telegram_id not in people:
                _admin_remove(tenant=tenant, group=group, row=row, actor=actor, request=request)
                removed.append(telegram_id)
        group.admins_synced_at = dj_timezone.now()
        group.save(update_fields=["admins_synced_at", "updated_at"])
    summary = AdminsSummary(
        added=sorted(added),
        removed=sorted(removed),
        unchanged=sorted(unchanged),
        synced_at=group.admins_synced_at,
    )
    logger.info(
        "community.admins.synced",
        extra={
            "tenant": tenant.slug,
            "chat_id": group.chat_id,
            "added": len(added),
            "removed": len(removed),
            "unchanged": len(unchanged),
        },
    )
    return summary


def _may_bind_by_adding_bot(tenant: Tenant, telegram_id: int) -> bool:
    """Only someone who already manages this community's settings (its owner, named at
    creation, or an admin the owner has not limited). There is no first-come bootstrap:
    a community nobody manages cannot be claimed by adding its bot."""
    user = user_get(telegram_id=telegram_id)
    return user is not None and Capability.MANAGE_SETTINGS in user_capabilities(
        tenant=tenant, user=user
    )


def _group_confirm(
    *, tenant: Tenant, bot: Bot, chat_id: int, admin_telegram_id: int
) -> botapi.GroupFacts:
    """Ask Telegram, not the update, before binding: the chat is a group or supergroup,
    ``bot`` is in it, and ``admin_telegram_id`` is its creator or an administrator."""
    facts = botapi.group_facts(
        token=_bot_token(tenant, bot.telegram_id, strict=True), chat_id=chat_id
    )
    if not facts.is_group:
        raise ServiceError(
            f"only groups and supergroups can be connected, not a {facts.chat_type} chat",
            code="not_a_group",
            status=409,
        )
    if not facts.bot_present:
        raise ServiceError(
            "the bot is not in this chat (it was removed or never added)",
            code="bot_not_in_chat",
            status=409,
        )
    if not facts.administers(admin_telegram_id):
        raise ServiceError(
            "only an administrator of this group can bind it", code="not_chat_admin", status=403
        )
    return facts


def _bind_refused(*, tenant: Tenant, chat_id: int, via: str, by: int, exc: ServiceError) -> None:
    # Logged, not audited: anyone can add a bot to a chat, and the audit trail is the
    # community's record of what changed, not of what strangers tried.
    logger.warning(
        "community.group.bind_refused",
        extra={
            "tenant": tenant.slug,
            "chat_id": chat_id,
            "via": via,
            "by": by,
            "code": exc.code,
        },
    )


def _bound_log(*, tenant: Tenant, via: str, group: Group, newly_bound: bool) -> None:
    logger.info(
        "community.group.bound",
        extra={
            "tenant": tenant.slug,
            "chat_id": group.chat_id,
            "via": via,
            "newly_bound": newly_bound,
        },
    )


_Checked = TypeVar("_Checked")


@dataclass(frozen=True)
class _BindAttempt:
    """One attempt to bind ``chat_id`` to ``tenant`` through its bot, by a person, one
    way (``via``: ``bot_added`` or ``link_code``)."""

    tenant: Tenant
    bot_id: int
    chat_id: int
    title: str
    by: int
    via: str


def _confirmed(
    attempt: _BindAttempt, checks: Callable[[], _Checked]
) -> tuple[Bot, _Checked, GroupFacts]:
    """The tenant's bot, the flow's own ``checks``, then Telegram's confirmation that the
    chat is a group with the bot in it and that the person administers it. A refusal is
    logged and raised."""
    tenant, chat_id = attempt.tenant, attempt.chat_id
    try:
        bot = _tenant_bot(tenant, attempt.bot_id)
        checked = checks()
        facts = _group_confirm(
            tenant=tenant, bot=bot, chat_id=chat_id, admin_telegram_id=attempt.by
        )
    except ServiceError as exc:
        _bind_refused(tenant=tenant, chat_id=chat_id, via=attempt.via, by=attempt.by, exc=exc)
        raise
    return bot, checked, facts


def _bind_confirmed(
    attempt: _BindAttempt, bot: Bot, facts: GroupFacts, data: dict[str, Any] | None = None
) -> BindResult:
    """In the caller's transaction: bind the confirmed group and sync its admins from the
    list Telegram gave; the bind is logged once committed."""
    tenant, actor = attempt.tenant, Actor.user(attempt.by)
    group, newly_bound = _group_bind(
        tenant=tenant,
        bot=bot,
        chat_id=attempt.chat_id,
        title=facts.title or attempt.title,
        actor=actor,
        via=attempt.via,
        data=data,
    )
    admins = _admins_sync(tenant=tenant, group=group, admins=facts.admins, actor=actor)
    transaction.on_commit(
        partial(_bound_log, tenant=tenant, via=attempt.via, group=group, newly_bound=newly_bound)
    )
    return BindResult(group=group, newly_bound=newly_bound, admins=admins)


# ---- binding ---------------------------------------------------------------------------
def group_bind_on_bot_added(
    *, tenant: Tenant, bot_id: int, chat_id: int, title: str, added_by_telegram_id: int
) -> BindResult:
    """The tenant's bot was added to a group: bind the chat, create the group, sync its
    admins. Refused when another tenant holds the chat, when the person who added the bot
    does not manage this community's settings, or when Telegram does not confirm that the
    chat is a group, that the bot is in it and that the adder administers it (the update
    itself proves none of that)."""
    community_check(tenant)

    def checks() -> None:
        _bound_elsewhere_check(tenant, chat_id)
        if not _may_bind_by_adding_bot(tenant, added_by_telegram_id):
            raise ServiceError(
                "only this community's admins can connect a group by adding its bot; "
                "an admin can create a /bind code in the Mini App instead",
                code="not_allowed_to_bind",
                status=403,
            )

    attempt = _BindAttempt(tenant, bot_id, chat_id, title, added_by_telegram_id, "bot_added")
    bot, _, facts = _confirmed(attempt, checks)
    with tenant_context(tenant), transaction.atomic():
        return _bind_confirmed(attempt, bot, facts)


def group_unbind_on_bot_removed(
    *, tenant: Tenant, bot_id: int, chat_id: int, removed_by_telegram_id: int | None = None
) -> bool:
    """The tenant's bot left or was removed from a group: unbind the chat, deactivate the
    group (its settings are kept for a later re-bind) and drop its admins. Returns False
    when there was nothing to unbind, or another of the tenant's bots serves the group."""
    community_check(tenant)
    actor = Actor.user(removed_by_telegram_id) if removed_by_telegram_id else Actor.bot(bot_id)
    with tenant_context(tenant), transaction.atomic():
        group = Group.objects.select_for_update().filter(chat_id=chat_id, is_active=True).first()
        if group is None:
            return chat_unbind(tenant=tenant, chat_id=chat_id, actor=actor)
        if group.bot_id is not None and group.bot_id != bot_id:
            return False
        chat_unbind(tenant=tenant, chat_id=chat_id, actor=actor)
        group.is_active = False
        group.save(update_fields=["is_active", "updated_at"])
        admins = list(GroupAdmin.objects.select_for_update().filter(group=group))
        for row in admins:
            _admin_remove(tenant=tenant, group=group, row=row, actor=actor)
        history.record(
            action="group.unbound",
            actor=actor,
            tenant=tenant,
            target=("chat", chat_id),
            data={"bot_id": bot_id, "admins_removed": [r.telegram_id for r in admins]},
        )
    logger.info("community.group.unbound", extra={"tenant": tenant.slug, "chat_id": chat_id})
    return True


def group_link_code_create(
    *, tenant: Tenant, created_by: TelegramUser, request: Any = None
) -> LinkCode:
    """A one-time code (15 minutes) that binds the group it is sent in with /bind."""
    community_check(tenant)
    now = dj_timezone.now()
    with tenant_context(tenant):
        LinkCode.objects.filter(expires_at__lt=now - LINK_CODE_KEEP).delete()
        for _ in range(5):
            code = "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))
            try:
                with transaction.atomic():
                    link = LinkCode.objects.create(
                        code=code, created_by=created_by.telegram_id, expires_at=now + LINK_CODE_TTL
                    )
                    # The code itself is a secret until used: audit its id, not its value.
                    history.record(
                        action="group.link_code_created",
                        actor=Actor.user(created_by),
                        tenant=tenant,
                        target=("link_code", link.pk),
                        data={"expires_at": link.expires_at.isoformat()},
                        request=request,
                    )
            except IntegrityError:  # the same code already exists: draw again
                continue
            logger.info(
                "community.link_code.created",
                extra={"tenant": tenant.slug, "link_code_id": link.pk},
            )
            return link
    raise ServiceError(
        "could not create a code; try again", code="link_code_unavailable", status=503
    )


def link_code_normalize(code: str) -> str:
    """Codes are matched case-insensitively, ignoring spaces and dashes."""
    return re.sub(r"[\s-]", "", code or "").upper()


def _link_code_check(link: LinkCode | None) -> LinkCode:
    if link is None:
        raise ServiceError(
            "this code is not valid; create a new one in the Mini App",
            code="link_code_unknown",
            status=404,
        )
    if link.used_at is not None:
        raise ServiceError(
            "this code was already used; create a new one in the Mini App",
            code="link_code_used",
            status=409,
        )
    if link.expires_at <= dj_timezone.now():
        raise ServiceError(
            "this code has expired; create a new one in the Mini App",
            code="link_code_expired",
            status=410,
        )
    return link


def _link_code_creator_check(tenant: Tenant, link: LinkCode) -> None:
    """A code carries its creator's authority only while they still hold it: demoted,
    or with ``manage_settings`` revoked, their unused codes bind nothing."""
    creator = user_get(telegram_id=link.created_by)
    if creator is None or Capability.MANAGE_SETTINGS not in user_capabilities(
        tenant=tenant, user=creator
    ):
        raise ServiceError(
            "the admin who created this code can no longer connect groups; "
            "ask a current admin for a new code",
            code="link_code_creator_not_allowed",
            status=403,
        )


def group_bind_with_code(
    *, tenant: Tenant, code: str, chat_id: int, title: str, from_telegram_id: int, bot_id: int
) -> BindResult:
    """``/bind CODE`` in a group, received by one of ``tenant``'s bots: check the code and
    that its creator still manages the community, confirm through Telegram that the chat
    is a group with the bot in it and that the sender administers it, bind it, use the
    code up, and sync the group's admins from the list already fetched."""
    community_check(tenant)
    if from_telegram_id == GROUP_ANONYMOUS_BOT_ID:
        raise ServiceError(
            "anonymous admins cannot be verified: turn off 'Remain anonymous' "
            "or ask another admin to send the code",
            code="anonymous_admin",
            status=403,
        )
    normalized = link_code_normalize(code)
    with tenant_context(tenant):

        def checks() -> LinkCode:
            link = _link_code_check(LinkCode.objects.filter(code=normalized).first())
            _link_code_creator_check(tenant, link)
            _bound_elsewhere_check(tenant, chat_id)
            return link

        attempt = _BindAttempt(tenant, bot_id, chat_id, title, from_telegram_id, "link_code")
        bot, link, facts = _confirmed(attempt, checks)
        with transaction.atomic():
            # Checked again under the row lock: two /bind with one code, one wins.
            link = _link_code_check(LinkCode.objects.select_for_update().filter(pk=link.pk).first())
            link.used_at = dj_timezone.now()
            link.used_in_chat = chat_id
            link.used_by = from_telegram_id
            link.save(update_fields=["used_at", "used_in_chat", "used_by"])
            data = {"link_code_id": link.pk, "code_created_by": link.created_by}
            return _bind_confirmed(attempt, bot, facts, data)


# ---- admins ----------------------------------------------------------------------------
def admins_refresh(
    *, tenant: Tenant, chat_id: int, actor: Actor = SYSTEM, request: Any = None
) -> AdminsSummary:
    """Sync a bound group's admins with Telegram: new Telegram admins get a GroupAdmin row
    and the ``admin`` role (an owner stays owner); admins gone from Telegram's list lose
    the row and, unless they administer another bound group, the role. Idempotent."""
    community_check(tenant)
    with tenant_context(tenant):
        group = bound_group_get(tenant=tenant, chat_id=chat_id)
        admins = botapi.chat_administrators(token=_bot_token(tenant, group.bot_id), chat_id=chat_id)
        return _admins_sync(tenant=tenant, group=group, admins=admins, actor=actor, request=request)


def group_title_refresh(*, tenant: Tenant, chat_id: int, actor: Actor = SYSTEM) -> Group:
    """Take a bound group's title from Telegram (getChat); audited when it changed."""
    community_check(tenant)
    with tenant_context(tenant):
        group = bound_group_get(tenant=tenant, chat_id=chat_id)
        title = botapi.chat_title(token=_bot_token(tenant, group.bot_id), chat_id=chat_id)
        title = title[:TITLE_MAX_LENGTH]
        with transaction.atomic():
            group = Group.objects.select_for_update().get(pk=group.pk)
            if not title or title == group.title:
                return group
            previous, group.title = group.title, title
            group.save(update_fields=["title", "updated_at"])
            history.record(
                action="group.title_changed",
                actor=actor,
                tenant=tenant,
                target=("chat", chat_id),
                data={"from": previous, "to": title},
            )
    return group


# ---- settings --------------------------------------------------------------------------
@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def _validated_settings(
    *,
    title: str | None,
    language: str | None,
    timezone: str | None,
    welcome_text: str | None,
    features: dict[str, Any] | None,
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if title is not None:
        title = title.strip()
        if len(title) > TITLE_MAX_LENGTH:
            raise ServiceError(
                f"title: at most {TITLE_MAX_LENGTH} characters", code="invalid_title"
            )
        values["title"] = title
    if language is not None:
        if not LANGUAGE.match(language):
            raise ServiceError(
                "language: use a language code such as 'en' or 'pt-BR'", code="invalid_language"
            )
        values["language"] = language
    if timezone is not None:
        if timezone not in _timezones():
            raise ServiceError(
                f"timezone: {timezone!r} is not an IANA time zone (e.g. 'Europe/Berlin')",
                code="invalid_timezone",
            )
        values["timezone"] = timezone
    if welcome_text is not None:
        if len(welcome_text) > WELCOME_TEXT_MAX_LENGTH:
            raise ServiceError(
                f"welcome_text: at most {WELCOME_TEXT_MAX_LENGTH} characters",
                code="welcome_text_too_long",
            )
        values["welcome_text"] = welcome_text
    if features is not None:
        unknown = sorted(set(features) - set(FEATURE_DEFAULTS))
        if unknown:
            raise ServiceError(
                f"features: unknown switch {', '.join(unknown)}; known: "
                f"{', '.join(sorted(FEATURE_DEFAULTS))}",
                code="unknown_feature",
            )
        not_bool = sorted(k for k, v in features.items() if not isinstance(v, bool))
        if not_bool:
            raise ServiceError(
                f"features: {', '.join(not_bool)} must be true or false",
                code="invalid_feature_value",
            )
        values["features"] = features
    return values


def group_settings_update(
    *,
    tenant: Tenant,
    chat_id: int,
    actor: Actor,
    request: Any = None,
    title: str | None = None,
    language: str | None = None,
    timezone: str | None = None,
    welcome_text: str | None = None,
    features: dict[str, Any] | None = None,
) -> Group:
    """Change a bound group's settings (None leaves a field as it is; ``features`` changes
    only the switches it names). Everything is validated before anything is written; the
    audit entry lists each changed field with its old and new value."""
    community_check(tenant)
    values = _validated_settings(
        title=title,
        language=language,
        timezone=timezone,
        welcome_text=welcome_text,
        features=features,
    )
    with tenant_context(tenant), transaction.atomic():
        group = bound_group_get(tenant=tenant, chat_id=chat_id, for_update=True)
        changed: dict[str, dict[str, Any]] = {}
        for key, value in values.items():
            if key == "features":
                before = group.effective_features
                group.features = {**group.features, **value}
                after = group.effective_features
                diff = {
                    k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]
                }
                if diff:
                    changed["features"] = diff
                continue
            if getattr(group, key) != value:
                changed[key] = {"from": getattr(group, key), "to": value}
                setattr(group, key, value)
        if not changed:
            return group
        group.save(update_fields=[*changed, "updated_at"])
        history.record(
            action="group.settings_updated",
            actor=actor,
            tenant=tenant,
            target=("chat", chat_id),
            data={"changed": changed},
            request=request,
        )
    logger.info(
        "community.group.settings_updated",
        extra={"tenant": tenant.slug, "chat_id": chat_id, "fields": sorted(changed)},
    )
    return group
