"""What the bot says in a group: the welcome, moderation notices, the /leaderboard reply.

Rendering only (no database, no Telegram): services and handlers pass in what to say.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from community.selectors import Board

NAME_MAX_LENGTH = 160
BUTTON_TEXT = "I'm human"
DEFAULT_WELCOME = "Welcome to {group}, {name}!"
# Why a message was removed, as the notice says it (by rule).
REASONS = {
    "flood": "flooding the chat",
    "blocklist": "a blocked word",
    "link": "links are not allowed for new members yet",
    "forward": "forwarded messages are not allowed for new members yet",
}


def display_name(first_name: str | None, last_name: str | None = None) -> str:
    return " ".join(p for p in (first_name, last_name) if p).strip()[:NAME_MAX_LENGTH]


def duration_text(seconds: int) -> str:
    """30 s, 10 min, 1 h, 1 h 30 min, 2 d."""
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, rest = divmod(seconds, 86400)
    return f"{days} d" + (f" {rest // 3600} h" if rest >= 3600 else "")


# ---- welcome -------------------------------------------------------------------------------
def welcome_render(*, template: str, name: str, user_id: int, group: str, minutes: str) -> str:
    """The welcome as HTML: the admin's text (escaped, so it cannot break the markup)
    with ``{name}`` as a mention of the member and ``{group}`` as the group's title."""
    mention = f'<a href="tg://user?id={int(user_id)}">{html.escape(name or "there")}</a>'
    text = html.escape(template or DEFAULT_WELCOME, quote=False)
    text = text.replace("{name}", mention).replace("{group}", html.escape(group or "the group"))
    if minutes:
        text += f"\n\nPress “{BUTTON_TEXT}” within {minutes} to start chatting."
    return text


# ---- moderation ----------------------------------------------------------------------------
def ladder_step_text(step: dict) -> str:
    """An escalation step as the warning names it ("Next time: ...")."""
    if step["action"] == "warn":
        return "another warning"
    if step["action"] == "mute":
        return f"a {duration_text(step['mute_seconds'])} mute"
    return "a ban"


def moderation_notice(
    *, action: str, name: str, rule: str, mute_seconds: int | None, next_step: str
) -> str:
    """What the group is told about a warning, mute or ban ("" for a plain deletion)."""
    reason = REASONS[rule]
    if action == "warn":
        return f"{name}, this is a warning: {reason}. Next time: {next_step}."
    if action == "mute":
        return f"{name} is muted for {duration_text(mute_seconds or 0)}: {reason}."
    if action == "ban":
        return f"{name} was banned: {reason}."
    return ""


# ---- leaderboard ---------------------------------------------------------------------------
def board_text(board: Board, *, title: str = "") -> str:
    """The /leaderboard reply."""
    heading = {"day": "today", "week": "the last 7 days", "all": "all time"}[board.period]
    lines = [f"Leaderboard — {heading}" + (f" in {title}" if title else "")]
    if not board.entries:
        lines.append("No messages counted yet.")
    for entry in board.entries:
        who = entry.name or (f"@{entry.username}" if entry.username else str(entry.user_id))
        plural = "" if entry.messages == 1 else "s"
        lines.append(f"{entry.rank}. {who} — {entry.xp} XP ({entry.messages} message{plural})")
    return "\n".join(lines)
