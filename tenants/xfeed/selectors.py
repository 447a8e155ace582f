"""Reads of a community's X feed: a group's forwarding, its mention rules and the
mentions they matched; the community's KOLs and their tracked posts (reports are in
``xfeed.reports``). Querysets are lazy: call them inside the tenant's schema (an API
request on the tenant's domain, or ``tenant_context``); a group's start from community's
``bound_group_get``, so an unknown or unbound chat answers 404 ``group_not_found``."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django_tenants.utils import tenant_context

from accounts.roles import Capability
from accounts.selectors import user_capabilities, user_get
from community.selectors import bound_group_get
from config.errors import ServiceError
from tenancy.models import Tenant
from tenancy.selectors import community_check
from xfeed.models import Forwarding, Kol, KolPost, KolSnapshot, Mention, MentionRule


def forwarding_list(*, tenant: Tenant, chat_id: int) -> QuerySet[Forwarding]:
    """The X accounts the bound group ``chat_id`` forwards (newest first, as paginated)."""
    bound_group_get(tenant=tenant, chat_id=chat_id)
    return Forwarding.objects.filter(chat_id=chat_id, is_active=True).select_related("account")


def mention_rule_list(*, tenant: Tenant, chat_id: int) -> QuerySet[MentionRule]:
    """The bound group's mention rules."""
    bound_group_get(tenant=tenant, chat_id=chat_id)
    return MentionRule.objects.filter(chat_id=chat_id)


def mention_list(*, tenant: Tenant, chat_id: int, spam: bool | None = None) -> QuerySet[Mention]:
    """Posts the bound group's rules matched, newest first, with the rule and the spam
    reason (``spam``: only those held back as spam, or only the others)."""
    bound_group_get(tenant=tenant, chat_id=chat_id)
    qs = Mention.objects.filter(rule__chat_id=chat_id).select_related("post", "rule")
    if spam is True:
        qs = qs.exclude(spam_reason="")
    elif spam is False:
        qs = qs.filter(spam_reason="")
    return qs


def manages_settings(*, tenant: Tenant, telegram_id: int) -> bool:
    """Does the Telegram user ``telegram_id`` hold ``manage_settings`` in ``tenant`` (what
    the API asks of the same operations)?"""
    user = user_get(telegram_id=telegram_id)
    return user is not None and Capability.MANAGE_SETTINGS in user_capabilities(
        tenant=tenant, user=user
    )


def kol_list(*, tenant: Tenant) -> QuerySet[Kol]:
    """The community's active KOLs."""
    community_check(tenant)
    return Kol.objects.filter(is_active=True)


def kol_get(*, tenant: Tenant, kol_id: int) -> Kol:
    """An active KOL of ``tenant``; 404 ``kol_not_found`` otherwise (each community has its
    own table: another's ids name nothing here)."""
    with tenant_context(tenant):
        kol = Kol.objects.filter(pk=kol_id, is_active=True).first()
    if kol is None:
        raise ServiceError("no such KOL", code="kol_not_found", status=404)
    return kol


def kol_posts(*, tenant: Tenant, kol_id: int) -> QuerySet[KolPost]:
    """An active KOL's tracked posts, each with its snapshots (oldest first)."""
    kol = kol_get(tenant=tenant, kol_id=kol_id)
    return KolPost.objects.filter(kol_id=kol.pk).prefetch_related(
        Prefetch("snapshots", queryset=KolSnapshot.objects.order_by("taken_at"))
    )
