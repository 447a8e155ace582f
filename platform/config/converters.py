"""URL converters shared by every app's routes."""

from __future__ import annotations

from django.urls import register_converter


class ChatIdConverter:
    """Telegram chat ids of groups are negative (-100...); Django's int converter only
    matches non-negative numbers."""

    regex = r"-?[0-9]{1,20}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(int(value))


register_converter(ChatIdConverter, "signed_int")
