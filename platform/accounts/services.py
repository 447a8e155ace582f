"""Writes for Telegram users, memberships (tenants' owners among them) and their
capabilities."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

import history.services as history
from accounts.models import Membership, TelegramUser, TenantProfile
from accounts.roles import RANK, Capability, Role
from accounts.selectors import (
    membership_forget,
    tenant_profile_forget,
    tenant_profile_get,
    user_get,
    user_profile,
    user_with_membership,
)
from accounts.signals import user_started
from config.errors import ServiceError
from history.services import SYSTEM, Actor
from tenancy.models import Tenant
from tenancy.services import owner_telegram_id_check

logger = logging.getLogger(__name__)

# last_seen is refreshed at most this often, so reads stay reads.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
PROFILE_FIELDS = ("username", "first_name", "last_name", "language_code", "photo_url", "is_premium")


def _profile_values(profile: dict[str, Any]) -> dict[str, Any]:
    values = {key: profile.get(key) or "" for key in PROFILE_FIELDS if key != "is_premium"}
    values["is_premium"] = bool(profile.get("is_premium", False))
    values["photo_url"] = photo_url_clean(values["photo_url"])
    return values


def _user_register(*, telegram_id: int, defaults: dict[str, Any]) -> TelegramUser:
    """The user of ``telegram_id``, registered (and audited) with ``defaults`` unless a
    concurrent first request already did."""
    with transaction.atomic():
        user, created = TelegramUser.objects.get_or_create(
            telegram_id=telegram_id, defaults=defaults
        )
        if created:
            history.record(
                action="user.registered", actor=Actor.user(user), target=("user", user.telegram_id)
            )
    return user


def user_touch(*, profile: dict[str, Any], tenant: Tenant | None = None) -> TelegramUser:
    """Register a user on first sight; later refresh profile fields and last_seen.
    ``profile`` is Telegram's user object (already validated). With ``tenant`` the
    user's membership there is read in the same query."""
    now = timezone.now()
    values = _profile_values(profile)
    user = user_with_membership(telegram_id=profile["id"], tenant=tenant)
    if user is None:
        return _user_register(telegram_id=profile["id"], defaults={**values, "last_seen": now})
    changed = [key for key, value in values.items() if getattr(user, key) != value]
    if changed or now - user.last_seen >= LAST_SEEN_RESOLUTION:
        for key in changed:
            setattr(user, key, values[key])
        user.last_seen = now
        user.save(update_fields=[*changed, "last_seen"])
    return user


def user_start(
    *, tenant: Tenant, profile: dict[str, Any], bot_id: int, private_chat: bool
) -> TelegramUser:
    """/start: register (or refresh) the user, then let the apps above accounts react in
    the same transaction (``accounts.signals.user_started``: notifications notes that a
    community whose bot was started in private can now message them)."""
    with transaction.atomic():
        user = user_touch(profile=profile)
        user_started.send(
            sender=TelegramUser, tenant=tenant, user=user, bot_id=bot_id, private_chat=private_chat
        )
    return user


def user_update_preferences(
    *,
    user: TelegramUser,
    language: str | None = None,
    notification_preferences: dict[str, bool] | None = None,
    tenant: Tenant | None = None,
    request: Any = None,
) -> TelegramUser:
    """Change the user's own language and notification preferences (merged into the
    stored ones); audited in ``tenant``, the one whose domain they used (None: none)."""
    changes: dict[str, Any] = {}
    if language is not None and language != user.language:
        changes["language"] = language
    if notification_preferences is not None:
        merged = {**user.notification_preferences, **notification_preferences}
        if merged != user.notification_preferences:
            changes["notification_preferences"] = merged
    if not changes:
        return user
    with transaction.atomic():
        for key, value in changes.items():
            setattr(user, key, value)
        user.save(update_fields=list(changes))
        history.record(
            action="user.preferences_updated",
            actor=Actor.user(user),
            tenant=tenant,
            target=("user", user.telegram_id),
            data=changes,
            request=request,
        )
    return user


def membership_set_role(
    *,
    tenant: Tenant,
    user: TelegramUser,
    role: Role | str,
    actor: Actor = SYSTEM,
    only_upgrade: bool = False,
    reason: str = "",
) -> Membership:
    """Give ``user`` ``role`` in ``tenant``. With ``only_upgrade`` a higher existing role
    (an owner who is also a Telegram admin) is kept."""
    role = Role(role)
    membership_forget(user)
    with transaction.atomic():
        membership, created = Membership.objects.select_for_update().get_or_create(
            tenant=tenant, user=user, defaults={"role": role}
        )
        previous = None if created else Role(membership.role)
        if previous is not None and previous != role:
            if only_upgrade and RANK[previous] >= RANK[role]:
                return membership
            membership.role = role
            fields = ["role", "updated_at"]
            if role == Role.OWNER and membership.revoked:
                # Owners lift revocations; none would be left to lift an owner's own.
                membership.revoked = []
                fields.append("revoked")
            membership.save(update_fields=fields)
        if previous != role:
            history.record(
                action="role.assigned",
                actor=actor,
                tenant=tenant,
                target=("user", user.telegram_id),
                data={"role": role.value, "from": previous and previous.value, "reason": reason},
            )
    return membership


def tenant_owner_set(
    *,
    tenant: Tenant,
    owner_telegram_id: int,
    actor: Actor = SYSTEM,
    reason: str = "named by staff",
) -> Membership:
    """Make ``owner_telegram_id`` an owner of ``tenant``: staff naming one for a community
    created without (or whose owner lost their Telegram account), and the owner named at
    creation (``accounts.receivers``, inside ``tenant_create``'s transaction). A user
    never seen before is registered by id; Telegram fills in the profile on their first
    visit. Audited as ``role.assigned`` with ``reason``."""
    if tenant.is_public:
        raise ServiceError("the public tenant has no owners", code="invalid")
    owner_telegram_id_check(owner_telegram_id)
    if owner_telegram_id is None:
        raise ServiceError("name the owner's Telegram id", code="invalid_owner")
    with transaction.atomic():
        user = user_get(telegram_id=owner_telegram_id) or user_touch(
            profile={"id": owner_telegram_id}
        )
        membership = membership_set_role(
            tenant=tenant, user=user, role=Role.OWNER, actor=actor, reason=reason
        )
    logger.info(
        "tenant.owner_set",
        extra={"tenant": tenant.slug, "owner_telegram_id": owner_telegram_id, "reason": reason},
    )
    return membership


def membership_demote(
    *,
    tenant: Tenant,
    user: TelegramUser,
    from_role: Role | str,
    actor: Actor = SYSTEM,
    reason: str = "",
) -> bool:
    """Drop ``user`` back to member if (and only if) they hold ``from_role``. Grants go
    with the role; revocations stay, so leaving and rejoining a group (demoted, then
    promoted again by the next admin sync) never lifts what the owner took away."""
    membership_forget(user)
    with transaction.atomic():
        updated = Membership.objects.filter(tenant=tenant, user=user, role=Role(from_role)).update(
            role=Role.MEMBER, granted=[], updated_at=timezone.now()
        )
        if updated:
            history.record(
                action="role.revoked",
                actor=actor,
                tenant=tenant,
                target=("user", user.telegram_id),
                data={"role": Role(from_role).value, "reason": reason},
            )
    return bool(updated)


def membership_set_capabilities(
    *,
    tenant: Tenant,
    user: TelegramUser,
    grant: list[str],
    revoke: list[str],
    actor: Actor,
    request: Any = None,
) -> Membership:
    """An owner grants or revokes single capabilities of one admin (or moderator). A
    demoted member keeps their revocations (see ``membership_demote``): the owner may
    lift or add revocations for them, but grants nothing beyond their role."""
    grant_set = {Capability(c) for c in grant}
    revoke_set = {Capability(c) for c in revoke}
    if grant_set & revoke_set:
        raise ServiceError(
            "a capability cannot be granted and revoked at once", code="conflicting_capabilities"
        )
    membership_forget(user)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(tenant=tenant, user=user).first()
        lifting_only = (
            membership is not None
            and membership.role == Role.MEMBER
            and grant_set <= set(membership.revoked)
        )
        if membership is None or (
            membership.role not in (Role.ADMIN, Role.MODERATOR) and not lifting_only
        ):
            raise ServiceError(
                "capabilities can only be changed for admins and moderators",
                code="not_an_admin",
                status=409,
            )
        granted = (set(membership.granted) | (set() if lifting_only else grant_set)) - revoke_set
        revoked = (set(membership.revoked) | revoke_set) - grant_set
        membership.granted = sorted(granted)
        membership.revoked = sorted(revoked)
        membership.save(update_fields=["granted", "revoked", "updated_at"])
        history.record(
            action="role.capabilities_changed",
            actor=actor,
            tenant=tenant,
            target=("user", user.telegram_id),
            data={"grant": sorted(grant_set), "revoke": sorted(revoke_set)},
            request=request,
        )
    return membership


# ---- profiles: global only from sources the platform trusts --------------------------
def photo_url_clean(url: str) -> str:
    """An https URL with a host (cut to the column's size), or "": the Mini App puts it
    in an <img src>, and http:, javascript: or data: URLs have no business there."""
    try:
        parsed = urlsplit(url)
    except ValueError:
        return ""
    if parsed.scheme.lower() != "https" or not parsed.hostname:
        return ""
    return url[:512]


def user_authenticate(
    *, profile: dict[str, Any], tenant: Tenant | None, trusted: bool
) -> TelegramUser:
    """The user a verified initData names. ``trusted`` (accounts.authentication decides):
    the platform's own bot or Telegram's Ed25519 signature vouches for ``profile``, which
    refreshes the global profile (user_touch). Otherwise only the tenant's bot signed it
    (its owner holds the token and can sign any user id): the profile is kept for this
    tenant alone (TenantProfile) and a new user is registered with an empty global
    profile."""
    if trusted:
        vouched = user_touch(profile=profile, tenant=tenant)
        if tenant is not None and tenant_profile_get(tenant=tenant, user=vouched) is not None:
            # Genuine data supersedes what this tenant's bot said before.
            TenantProfile.objects.filter(tenant=tenant, user=vouched).delete()
            tenant_profile_forget(vouched)
        return vouched
    now = timezone.now()
    values = _profile_values(profile)
    user = user_with_membership(telegram_id=profile["id"], tenant=tenant)
    if user is None:
        user = _user_register(telegram_id=profile["id"], defaults={"last_seen": now})
    # Without a tenant the unvouched profile has nowhere to go: it is dropped.
    if tenant is not None and user_profile(tenant=tenant, user=user) != values:
        TenantProfile.objects.update_or_create(tenant=tenant, user=user, defaults=values)
        tenant_profile_forget(user)
    if now - user.last_seen >= LAST_SEEN_RESOLUTION:
        user.last_seen = now
        user.save(update_fields=["last_seen"])
    return user


def user_set_staff(*, user: TelegramUser, is_staff: bool, actor: Actor) -> TelegramUser:
    """Staff hold every capability in every tenant: granting it is a platform event."""
    with transaction.atomic():
        locked = TelegramUser.objects.select_for_update().get(pk=user.pk)
        if locked.is_staff != is_staff:
            locked.is_staff = is_staff
            locked.save(update_fields=["is_staff"])
            history.record(
                action="user.staff_granted" if is_staff else "user.staff_revoked",
                actor=actor,
                target=("user", locked.telegram_id),
            )
    return locked
