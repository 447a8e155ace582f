"""Reads of custom bots (the tenant's schema): one bot, the list, a kind's text overrides."""

from __future__ import annotations

from django.db.models import QuerySet
from django_tenants.utils import tenant_context

from branding.models import CustomBot, MessageText
from tenancy.models import Tenant


def custom_bot_list(*, tenant: Tenant) -> QuerySet[CustomBot]:
    """The tenant's custom bots, lazily: evaluate inside its schema (a request on its
    domain, or ``tenant_context``)."""
    return CustomBot.objects.order_by("-id")


def custom_bot_get(*, tenant: Tenant, bot_id: int) -> CustomBot | None:
    """The tenant's custom bot with Telegram id ``bot_id`` (None: not one of its bots)."""
    with tenant_context(tenant):
        return CustomBot.objects.filter(telegram_id=bot_id).first()


def message_overrides(*, tenant: Tenant, kind: str, language: str) -> dict[str, str]:
    """The brand's own texts of ``kind`` in ``language``: message key -> text."""
    with tenant_context(tenant):
        return dict(
            MessageText.objects.filter(kind=kind, language=language).values_list("key", "text")
        )
