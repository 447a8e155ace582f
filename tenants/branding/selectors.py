"""Reads of a community's brand, its texts and its custom bots (the caller is in the
tenant's schema: API views are, through the request's tenant; the custom bots' reads
enter it themselves)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django_tenants.utils import tenant_context

from branding.models import Brand, CustomBot, MessageText
from provisioner.kinds import Kind
from tenancy.models import Tenant


def brand_get() -> Brand:
    """The brand, or an unsaved one with the defaults when none was set yet."""
    return Brand.objects.filter(pk=Brand.SINGLETON).first() or Brand(pk=Brand.SINGLETON)


def brand_logo(*, size: int) -> tuple[str, bytes] | None:
    """(upload digest, WebP) of the logo at ``size``, or None when there is no logo."""
    row = (
        Brand.objects.filter(pk=Brand.SINGLETON)
        .exclude(logo_sha256="")
        .values_list("logo_sha256", f"logo_{size}")
        .first()
    )
    if row is None or row[1] is None:
        return None
    return row[0], bytes(row[1])


@dataclass(frozen=True)
class TextEntry:
    key: str
    variables: tuple[str, ...]
    default: str  # the kind's template (Jinja source) in the language, else English
    override: str | None
    updated_at: object | None


def text_list(*, kind: Kind, language: str) -> list[TextEntry]:
    """Each message of ``kind`` with its default and the community's override in
    ``language``."""
    overrides = {t.key: t for t in MessageText.objects.filter(kind=kind.name, language=language)}
    return [
        TextEntry(
            key=key,
            variables=variables,
            default=kind.message_source(key, language),
            override=overrides[key].text if key in overrides else None,
            updated_at=overrides[key].updated_at if key in overrides else None,
        )
        for key, variables in kind.variables.items()
    ]


# ---- custom bots ---------------------------------------------------------------------------
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
