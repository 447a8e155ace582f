"""X feed fixtures: ``xsim``, a sandbox X on a clock the test moves (a module's own
server, emptied per test, the platform's reads pointed at it with an app token); and
``feed``, a community whose bot is on the sandbox Telegram with a bound group that has
forwarding and mentions switched on (``Feed``), to follow accounts and add rules in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.x import Limits, ManualClock, SandboxX
from tests.xfeed.helpers import APP_TOKEN, Feed, make_feed


@pytest.fixture(scope="module")
def xsim_server(request) -> Iterator[SandboxX]:
    server = SandboxX(
        limits=getattr(request.module, "X_LIMITS", None) or Limits.off(), clock=ManualClock()
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def xsim(xsim_server, settings) -> SandboxX:
    xsim_server.reset()
    xsim_server.add_app(APP_TOKEN)
    settings.X_API_BASE, settings.X_BEARER_TOKEN = xsim_server.base_url, APP_TOKEN
    return xsim_server


@pytest.fixture
def feed(make_tenant, tg, xsim):
    """``feed(features=...)``: a community with a bound group (``Feed``)."""

    def make(**kwargs) -> Feed:
        return make_feed(make_tenant(), tg, xsim, **kwargs)

    return make
