"""X feed fixtures: ``xsim``, a sandbox X on a clock the test moves (a module's own
server, emptied per test, the platform's reads pointed at it with an app token); and
``feed``, a community whose bot is on the sandbox Telegram with a bound group that has
forwarding and mentions switched on (``Feed``), to follow accounts and add rules in.
The KOL tests' own: ``kol_x``, a sandbox X on ``kol_clock`` (a ManualClock of the module,
which a module may start elsewhere), emptied per test with the platform's reads pointed
at it; they move the clock so that a week of snapshots runs in seconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.x import Limits, ManualClock, SandboxX
from tests.xfeed.helpers import APP_TOKEN, KOL_APP_TOKEN, Feed, make_feed


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


@pytest.fixture(scope="module")
def kol_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def kol_x_server(kol_clock: ManualClock) -> Iterator[SandboxX]:
    server = SandboxX(clock=kol_clock)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def kol_x(kol_x_server: SandboxX, settings) -> SandboxX:
    kol_x_server.reset()
    kol_x_server.add_app(KOL_APP_TOKEN)
    settings.X_API_BASE, settings.X_BEARER_TOKEN = kol_x_server.base_url, KOL_APP_TOKEN
    return kol_x_server
