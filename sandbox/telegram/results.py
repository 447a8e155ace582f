"""A method result Telegram answers with a ``description`` next to it (setWebhook's
"Webhook was set")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Described:
    result: Any
    description: str
