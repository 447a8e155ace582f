"""Reads of the bot runtime's tables, and which tenant an update belongs to."""

from __future__ import annotations

import re

from django.conf import settings
from django.db.models import QuerySet

from botruntime.models import Job
from tenancy.models import Tenant
from tenancy.selectors import (
    bot_tenant,
    chat_tenant_for_bot,
    tenant_get,
    tenant_primary_domain,
)

# Deep-link payloads naming a community (t.me/<bot>?start=<payload>, at most 64 of
# A-Z a-z 0-9 _ -): "t-<slug>", or "<slug>_<anything>" (e.g. "acme_raid42"), or "<slug>".
_SLUG = r"[a-z][a-z0-9-]{1,38}[a-z0-9]"
DEEP_LINK = re.compile(rf"^(?:t-(?P<tagged>{_SLUG})|(?P<slug>{_SLUG})(?:_[A-Za-z0-9_-]*)?)$")


def job_list(
    *, status: str | None = None, kind: str | None = None, limit: int = 100
) -> QuerySet[Job]:
    qs = Job.objects.select_related("tenant").order_by("-id")
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs[:limit]


def job_get(*, job_id: int) -> Job | None:
    return Job.objects.select_related("tenant").filter(pk=job_id).first()


def platform_bot_id() -> int | None:
    """The platform's shared bot configured by PLATFORM_BOT_TOKEN (it may also be
    registered as a Bot of the public tenant)."""
    token = settings.PLATFORM_BOT_TOKEN
    head = token.split(":", 1)[0]
    return int(head) if head.isdigit() else None


def deep_link_slug(payload: str) -> str | None:
    match = DEEP_LINK.match(payload or "")
    if match is None:
        return None
    return match.group("tagged") or match.group("slug")


def _active(tenant: Tenant | None) -> Tenant | None:
    return tenant if tenant is not None and tenant.status == Tenant.Status.ACTIVE else None


def tenant_resolve(
    *, bot_id: int, chat_id: int | None = None, start_payload: str | None = None
) -> Tenant | None:
    """The tenant an update belongs to, or None.

    1. A community's own bot serves only that community.
    2. The platform bot (public tenant) serves the communities whose groups it is in:
       the chat's binding decides, if the group was bound through the platform bot
       (not through a community's own bot that shares the chat).
    3. Else, for the platform bot, a deep-link payload on /start names the community
       (``t-<slug>`` or ``<slug>_...``).
    The public tenant itself is returned for the platform bot when nothing names a
    community. Suspended or deleted tenants resolve to None (their bots fall silent).
    """
    owner = bot_tenant(bot_id=bot_id)
    if owner is not None and not owner.is_public:
        return _active(owner)
    if owner is None and bot_id != platform_bot_id():
        return None
    if chat_id is not None:
        bound = chat_tenant_for_bot(chat_id=chat_id, bot_id=bot_id)
        if bound is not None:
            return _active(bound)
    slug = deep_link_slug(start_payload or "")
    if slug is not None:
        named = tenant_get(slug=slug, include_deleted=True)  # a deleted one: silence
        if named is not None and not named.is_public:
            return _active(named)
    return owner or Tenant.objects.filter(schema_name="public").first()


def mini_app_url(*, tenant: Tenant) -> str | None:
    """The Mini App URL of ``tenant`` (MINI_APP_URL on its primary domain); None when
    it has no domain."""
    domain = tenant_primary_domain(tenant=tenant)
    if not domain:
        return None
    return settings.MINI_APP_URL.format(domain=domain, slug=tenant.slug)
