"""Checks of a message's input, shared by the writers that queue messages (single
notifications and broadcasts)."""

from __future__ import annotations

from typing import Any

from config.errors import ServiceError
from notifications.events import Audience, EventType, event_get

MAX_TEXT = 4096  # Telegram's limit for a message's text
MAX_KEY = 200
OPTION_KEYS = {
    "parse_mode": str,
    "disable_notification": bool,
    "protect_content": bool,
    "link_preview_disabled": bool,
    "message_thread_id": int,
    "reply_markup": dict,  # an InlineKeyboardMarkup as Telegram's JSON
}
PARSE_MODES = {"HTML", "MarkdownV2", "Markdown"}


def event_check(name: str, audience: Audience) -> EventType:
    event = event_get(name)
    if event is None:
        raise ValueError(f"unknown notification event {name!r}; register it in events.py")
    if event.audience != audience:
        raise ValueError(f"event {name!r} is for {event.audience} chats, not {audience} chats")
    return event


def text_check(text: str) -> None:
    if not text or not text.strip():
        raise ServiceError("a message needs text", code="invalid_text")
    if len(text) > MAX_TEXT:
        raise ServiceError(
            f"a Telegram message is at most {MAX_TEXT} characters", code="text_too_long"
        )


def options_check(options: dict[str, Any] | None) -> dict[str, Any]:
    options = dict(options or {})
    for key, value in options.items():
        kind = OPTION_KEYS.get(key)
        if kind is None:
            raise ValueError(f"unknown message option {key!r}")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"message option {key!r} must be {kind.__name__}")
    if "parse_mode" in options and options["parse_mode"] not in PARSE_MODES:
        raise ValueError(f"parse_mode must be one of {sorted(PARSE_MODES)}")
    return options


def key_check(key: str) -> None:
    if not key or len(key) > MAX_KEY:
        raise ValueError(f"idempotency_key must be 1-{MAX_KEY} characters")
