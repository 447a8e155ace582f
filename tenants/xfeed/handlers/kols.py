"""``/kols`` in a bound group: the last 7 days of each KOL (posts, engagement, cost,
engagement per cost, growth); ``/kol @handle ...`` adds or updates a KOL and ``/unkol
@handle`` stops tracking one. For the group's admins who manage the community's settings
(``xfeed.handlers.common``). The report is ``xfeed.reports.kol_report``, run through
``in_tenant`` (never on the event loop)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from telegram import Update
from telegram.ext import ContextTypes

from botruntime.context import in_tenant
from config.errors import ServiceError
from history.services import Actor
from tenancy.models import Tenant
from wallet.currencies import amount_parse, currencies
from xfeed.handlers.common import error_text, settings_manager_of
from xfeed.models import Kol
from xfeed.reports import KolReport, Period, kol_report, money, per_cost
from xfeed.selectors import kol_list
from xfeed.services.kols import kol_remove, kol_set

DAYS = 7
MAX_LINES = 30  # a Telegram message holds 4096 characters


def kols_text(report: KolReport) -> str:
    period = f"{report.period.start:%d %b} to {report.period.end:%d %b}"
    if not report.kols:
        return f"KOLs, {period}: none yet. Add one with /kol @handle."
    lines = [f"KOLs, {period}:"]
    for row in report.kols[:MAX_LINES]:
        figures, currency = row.figures, row.currency
        impressions = "" if figures.impressions is None else f", {figures.impressions} views"
        ratio = per_cost(figures, currency)
        value = "" if ratio is None else f", {ratio} per {currency}"
        lines.append(
            f"@{row.username}: {figures.posts} posts, {figures.engagement} engagements"
            f"{impressions}, cost {money(figures.cost_minor, currency)} {currency}{value}, "
            f"growth +{figures.growth}"
        )
    if len(report.kols) > MAX_LINES:
        lines.append(f"... and {len(report.kols) - MAX_LINES} more (the full report: the API)")
    return "\n".join(lines)


async def on_kols(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    command = await settings_manager_of(update, context)
    if command is None:
        return
    today = timezone.now().date()
    period = Period(today - timedelta(days=DAYS - 1), today)
    report = await in_tenant(command.tenant, kol_report, tenant=command.tenant, period=period)
    await command.message.reply_text(kols_text(report))


KOL_USAGE = (
    "Use /kol @handle [tier] [rate CURRENCY] [billing] [#campaign ...]: add or update a KOL. "
    f"Tiers: {', '.join(Kol.Tier.values)}; billing: {', '.join(Kol.Billing.values)}; "
    "e.g. /kol @alice macro 250 USDT per_post #launch."
)
UNKOL_USAGE = "Use /unkol @handle: stop tracking that KOL (their report history stays)."


def kol_terms(args: list[str], current: Kol | None) -> dict[str, Any]:
    """kol_set's fields from ``/kol``'s words after the handle, in any order; what is not
    named keeps ``current``'s value (or the defaults). ServiceError naming the field."""
    fields: dict[str, Any] = {
        "tier": current.tier if current else Kol.Tier.MICRO,
        "rate_amount": current.rate_amount if current else 0,
        "rate_currency": current.rate_currency if current else "USDT",
        "billing": current.billing if current else Kol.Billing.PER_POST,
        "campaigns": list(current.campaigns) if current else [],
        "payout_address": current.payout_address if current else "",
        "notes": current.notes if current else "",
    }
    campaigns: list[str] = []
    words = list(args)
    while words:
        word = words.pop(0)
        lowered = word.lower().replace("-", "_")
        if lowered in Kol.Tier.values:
            fields["tier"] = lowered
        elif lowered in Kol.Billing.values or lowered == "perpost":
            fields["billing"] = "per_post" if lowered == "perpost" else lowered
        elif word.startswith("#"):
            campaigns.append(word)
        elif word[:1].isdigit():
            split = len(word.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
            amount, currency = word[:split], word[split:].upper()
            if not currency and words:
                currency = words.pop(0).upper()
            if currency not in currencies():
                raise ServiceError(
                    f"rate_currency: give the rate's currency, one of {', '.join(currencies())} "
                    "(e.g. 250 USDT)",
                    code="invalid",
                )
            try:
                fields["rate_amount"] = amount_parse(amount, currency)
            except ValueError as exc:
                raise ServiceError(f"rate_amount: {exc}", code="invalid") from None
            fields["rate_currency"] = currency
        else:
            raise ServiceError(
                f"options: {word!r} is not a tier, a rate with its currency, a billing or a "
                "#campaign",
                code="invalid_option",
            )
    if campaigns:
        fields["campaigns"] = campaigns
    return fields


def _kol_by_handle(tenant: Tenant, username: str) -> Kol | None:
    handle = username.lstrip("@")
    return kol_list(tenant=tenant).filter(username__iexact=handle).first()


def _kol_put(*, tenant: Tenant, username: str, args: list[str], actor: Actor) -> tuple[Kol, bool]:
    fields = kol_terms(args, _kol_by_handle(tenant, username))
    return kol_set(tenant=tenant, username=username, actor=actor, **fields)


def kol_line(kol: Kol) -> str:
    rate = f"{money(kol.rate_amount, kol.rate_currency)} {kol.rate_currency} {kol.billing}"
    tags = " ".join(f"#{tag}" for tag in kol.campaigns)
    return f"@{kol.username} ({kol.tier}, {rate}{', ' + tags if tags else ''})"


async def on_kol(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    command = await settings_manager_of(update, context)
    if command is None:
        return
    args = context.args or []
    if not args:
        await command.message.reply_text(KOL_USAGE)
        return
    try:
        kol, created = await in_tenant(
            command.tenant,
            _kol_put,
            tenant=command.tenant,
            username=args[0],
            args=args[1:],
            actor=command.actor,
        )
    except ServiceError as exc:
        await command.message.reply_text(error_text(f"set KOL {args[0]}", exc))
        return
    verb = "Added" if created else "Updated"
    await command.message.reply_text(f"{verb} KOL {kol_line(kol)}.")


def _kol_drop(*, tenant: Tenant, username: str, actor: Actor) -> Kol:
    kol = _kol_by_handle(tenant, username)
    if kol is None:
        raise ServiceError(f"username: @{username.lstrip('@')} is not a KOL here", code="invalid")
    return kol_remove(tenant=tenant, kol_id=kol.pk, actor=actor)


async def on_unkol(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    command = await settings_manager_of(update, context)
    if command is None:
        return
    args = context.args or []
    if len(args) != 1:
        await command.message.reply_text(UNKOL_USAGE)
        return
    try:
        kol = await in_tenant(
            command.tenant, _kol_drop, tenant=command.tenant, username=args[0], actor=command.actor
        )
    except ServiceError as exc:
        await command.message.reply_text(error_text(f"remove KOL {args[0]}", exc))
        return
    await command.message.reply_text(f"Stopped tracking KOL @{kol.username}.")
