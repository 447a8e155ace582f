"""``/kols`` in a bound group: the last 7 days of each KOL (posts, engagement, cost,
engagement per cost, growth), for the group's admins who manage the community's settings
(``xfeed.handlers.common``). The report is ``xfeed.reports.kol_report``, run through
``in_tenant`` (never on the event loop)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from telegram import Update
from telegram.ext import ContextTypes

from botruntime.context import in_tenant
from xfeed.handlers.common import settings_manager_of
from xfeed.reports import KolReport, Period, kol_report, money, per_cost

DAYS = 7
MAX_LINES = 30  # a Telegram message holds 4096 characters


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
    command = await settings_manager_of(update, context)
    if command is None:
        return
    today = timezone.now().date()
    period = Period(today - timedelta(days=DAYS - 1), today)
    report = await in_tenant(command.tenant, kol_report, tenant=command.tenant, period=period)
    await command.message.reply_text(kols_text(report))
