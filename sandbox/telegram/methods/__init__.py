"""The Bot API methods the sandbox serves, one module per area. Each method is a function
of a ``Call`` registered under its Bot API name; Telegram matches names case-insensitively."""

from __future__ import annotations

from sandbox.telegram.methods import chats, messages, payments, profile, updates  # noqa: F401
from sandbox.telegram.methods.registry import METHODS, Call, Method, lookup

__all__ = ["METHODS", "Call", "Method", "lookup"]
