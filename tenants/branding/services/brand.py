"""The brand's profile (what Telegram shows for the community's bots), applying it
through the Bot API with a read-back, and the brand's colours."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

import history.services as history
from branding.botapi import profile_apply
from branding.colors import ColorError, colors_check
from branding.models import Brand
from config.errors import ServiceError
from history.services import Actor
from tenancy.selectors import tenant_bots

if TYPE_CHECKING:
    from datetime import datetime

    from tenancy.models import Tenant

PROFILE_FIELDS = ("display_name", "description", "short_description", "commands", "menu_button")
DEFAULT_MENU_BUTTON = {"type": "commands"}


def brand_locked() -> Brand:
    """The brand row, created with the defaults if missing, locked for this transaction."""
    brand, _ = Brand.objects.select_for_update().get_or_create(pk=Brand.SINGLETON)
    return brand


def brand_update(
    *, tenant: Tenant, profile: dict[str, Any], actor: Actor, request: Any = None
) -> Brand:
    """Replace the profile (fields absent from ``profile`` get their defaults). Telegram
    sees it once applied (``brand_apply``)."""
    values = {
        "display_name": profile.get("display_name", ""),
        "description": profile.get("description", ""),
        "short_description": profile.get("short_description", ""),
        "commands": profile.get("commands", []),
        "menu_button": profile.get("menu_button") or DEFAULT_MENU_BUTTON,
    }
    with transaction.atomic():
        brand = brand_locked()
        changed = sorted(name for name, value in values.items() if getattr(brand, name) != value)
        for name, value in values.items():
            setattr(brand, name, value)
        brand.save()
        if changed:
            history.record(
                action="brand.updated",
                actor=actor,
                tenant=tenant,
                target=("brand", brand.pk),
                data={"fields": changed},
                request=request,
            )
    return brand


@dataclass
class BotProfile:
    bot_id: int
    shows: dict[str, Any]  # what Telegram answered when read back
    mismatches: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ApplyReport:
    bots: list[BotProfile]
    applied_at: datetime | None  # None when a bot shows something else

    @property
    def ok(self) -> bool:
        return all(not bot.mismatches for bot in self.bots)


def profile_of(brand: Brand) -> dict[str, Any]:
    """The brand's profile in the Bot API's terms."""
    return {
        "name": brand.display_name,
        "description": brand.description,
        "short_description": brand.short_description,
        "commands": list(brand.commands),
        "menu_button": dict(brand.menu_button or DEFAULT_MENU_BUTTON),
    }


def profile_mismatches(expected: dict[str, Any], shows: dict[str, Any]) -> list[dict[str, Any]]:
    """Where Telegram shows something other than what was set."""
    wrong = []
    for name, want in expected.items():
        got = shows.get(name)
        if name == "name" and not want:
            continue  # an empty name resets to the bot's own: nothing to compare
        if name == "menu_button" and want.get("type") == "default":
            # Resetting the default button: Telegram then shows its default, commands.
            if got and got.get("type") in ("default", "commands"):
                continue
        if got != want:
            wrong.append({"field": name, "expected": want, "shown": got})
    return wrong


def brand_apply(*, tenant: Tenant, actor: Actor, request: Any = None) -> ApplyReport:
    """Apply the profile to each of the community's active bots with a token, read it
    back, and compare. ``profile_applied_at`` is set only when every bot shows it. A
    refusal by Telegram raises before anything is saved here."""
    brand = Brand.objects.filter(pk=Brand.SINGLETON).first()
    if brand is None:
        raise ServiceError(
            "this community has no brand yet; set it with PUT /api/v1/brand first",
            code="brand_not_set",
            status=409,
        )
    bots = [(bot_id, token) for bot_id, token in tenant_bots(tenant=tenant) if token]
    if not bots:
        raise ServiceError(
            "this community has no active bot with a token to apply the profile to",
            code="no_bot",
            status=409,
        )
    expected = profile_of(brand)
    report = ApplyReport(bots=[], applied_at=None)
    for bot_id, token in bots:
        shows = profile_apply(bot_id=bot_id, token=token, profile=expected)
        report.bots.append(BotProfile(bot_id, shows, profile_mismatches(expected, shows)))
    with transaction.atomic():
        if report.ok:
            report.applied_at = timezone.now()
            Brand.objects.filter(pk=brand.pk).update(profile_applied_at=report.applied_at)
        history.record(
            action="brand.applied",
            actor=actor,
            tenant=tenant,
            target=("brand", brand.pk),
            data={
                "bots": [bot.bot_id for bot in report.bots],
                "mismatches": {
                    str(bot.bot_id): [m["field"] for m in bot.mismatches]
                    for bot in report.bots
                    if bot.mismatches
                },
            },
            request=request,
        )
    return report


def brand_colors_set(
    *, tenant: Tenant, colors: dict[str, str], actor: Actor, request: Any = None
) -> Brand:
    """Set the four colours (hex; text readable on background and buttons)."""
    try:
        checked = colors_check(colors)
    except ColorError as exc:
        raise ServiceError(exc.message, code=exc.code) from None
    with transaction.atomic():
        brand = brand_locked()
        brand.colors = checked
        brand.save(update_fields=["colors", "updated_at"])
        history.record(
            action="brand.colors_set",
            actor=actor,
            tenant=tenant,
            target=("brand", brand.pk),
            data={"colors": checked},
            request=request,
        )
    return brand


def brand_colors_clear(*, tenant: Tenant, actor: Actor, request: Any = None) -> None:
    """Drop the colours: the Mini App keeps Telegram's theme."""
    with transaction.atomic():
        changed = Brand.objects.filter(pk=Brand.SINGLETON).exclude(colors={}).update(colors={})
        if changed:
            history.record(
                action="brand.colors_cleared",
                actor=actor,
                tenant=tenant,
                target=("brand", Brand.SINGLETON),
                request=request,
            )
