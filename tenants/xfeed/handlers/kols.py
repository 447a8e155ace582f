"""``/kols`` in a bound group: the last 7 days of each KOL (posts, engagement, cost,
engagement per cost, growth), for the community's settings managers only. The report is
``xfeed.reports.kol_report``, run through ``in_tenant`` (never on the event loop)."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone
from telegram import Update
from telegram.ext import ContextTypes

from accounts.roles import Capability
from accounts.selectors import user_capabilities, user_get
from botruntime.context import in_tenant
from community.handlers.common import GROUP_CHATS, group_of
from config.errors import ServiceError
from tenancy.models import Tenant
from xfeed.reports import KolReport, Period, kol_report, money, per_cost

KOLS_USAGE = "Use /kols in a group of this community: the last 7 days of its KOLs."
DAYS = 7
MAX_LINES = 30  # a Telegram message holds 4096 characters


def kols_week(*, tenant: Tenant, telegram_id: int, today: date) -> KolReport:
    """The last 7 days up to ``today``, for a settings manager of ``tenant`` only."""
    user = user_get(telegram_id=telegram_id)
    if user is None or Capability.MANAGE_SETTINGS not in user_capabilities(
        tenant=tenant, user=user
    ):
        raise ServiceError(
            "only this community's settings managers can see its KOL report",
            code="forbidden",
            status=403,
        )
    period = Period(today - timedelta(days=DAYS - 1), today)
    return kol_report(tenant=tenant, period=period)


def kols_text(report: KolReport) -> str:
    period = f"{report.period.start:%d %b} to {report.period.end:%d %b}"
    if not report.kols:
        return f"KOLs, {period}: none yet. Add them in the Mini App."
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
        lines.append(f"... and {len(report.kols) - MAX_LINES} more (full report in the Mini App)")
    return "\n".join(lines)


async def on_kols(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, chat, sender = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or sender is None:
        return
    if chat.type not in GROUP_CHATS:
        await message.reply_text(KOLS_USAGE)
        return
    tenant, config = await group_of(update, context)
    if tenant is None or config is None:
        return
    try:
        report = await in_tenant(
            tenant,
            kols_week,
            tenant=tenant,
            telegram_id=sender.id,
            today=timezone.now().date(),
        )
    except ServiceError as exc:
        await message.reply_text(exc.message[:1].upper() + exc.message[1:] + ".")
        return
    await message.reply_text(kols_text(report))
