"""``/myrewards`` in private: the user's rewards in this community's settled raids (the
latest ones, and the total per currency). A group gets a pointer to the private chat: a
person's rewards are theirs to show."""

from __future__ import annotations

from telegram import Chat, Update
from telegram.ext import ContextTypes

from botruntime.context import in_tenant, tenant_of
from raids.results import rewards_of_user
from wallet.currencies import amount_format

LATEST = 10
IN_PRIVATE = "Send /myrewards to me in private."
ELSEWHERE = "Open your community's bot to see your raid rewards there."
NONE_YET = "No raid rewards yet: join a raid, do its tasks, and they show here once it is settled."


def rewards_lines(*, user_id: int) -> list[str]:
    """The reply's lines (run inside the tenant's schema)."""
    rows = list(rewards_of_user(user_id=user_id).order_by("-raid__settled_at", "-id"))
    if not rows:
        return [NONE_YET]
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.raid.currency] = totals.get(row.raid.currency, 0) + row.payout
    lines = [
        "Your raid rewards: " + ", ".join(amount_format(v, c) for c, v in sorted(totals.items()))
    ]
    for row in rows[:LATEST]:
        name = row.raid.title or f"raid {row.raid.pk}"
        lines.append(f"{name}: {row.points} points, {amount_format(row.payout, row.raid.currency)}")
    if len(rows) > LATEST:
        lines.append(f"... and {len(rows) - LATEST} earlier raids")
    return lines


async def on_myrewards(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, chat, sender = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or sender is None:
        return
    if chat.type != Chat.PRIVATE:
        await message.reply_text(IN_PRIVATE)
        return
    tenant = await tenant_of(update, context)
    if tenant is None:
        return
    if tenant.is_public:
        await message.reply_text(ELSEWHERE)
        return
    lines = await in_tenant(tenant, rewards_lines, user_id=sender.id)
    await message.reply_text("\n".join(lines))
