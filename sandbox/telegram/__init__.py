"""A loopback Telegram Bot API for tests, benchmarks and the zero-config demo: a real
aiohttp server python-telegram-bot talks to through its ``base_url``, a control API and
Python methods that play the people, and a web page at ``/sandbox/`` to chat with bots.
See README.md in this folder."""

from sandbox.clock import ManualClock
from sandbox.telegram.errors import ApiError, SandboxError
from sandbox.telegram.limits import Limits
from sandbox.telegram.server import SandboxTelegram

__all__ = ["ApiError", "Limits", "ManualClock", "SandboxError", "SandboxTelegram"]
