"""A loopback X API v2 for tests, benchmarks and the demo: a real aiohttp server tweepy
talks to (through the platform's ``xclient.transport``), a control API and Python
methods that play the accounts, and a web page at ``/sandbox/``. See README.md in this
folder."""

from sandbox.clock import ManualClock
from sandbox.x.errors import ApiError, SandboxError
from sandbox.x.limits import Limits
from sandbox.x.server import SandboxX

__all__ = ["ApiError", "Limits", "ManualClock", "SandboxError", "SandboxX"]
