"""X client fixtures: ``link_x``, the sandbox X answering the platform's app and its OAuth
2.0 client (what linking an X account and connecting one go through)."""

from __future__ import annotations

import pytest

from sandbox.x import SandboxX
from tests.xclient.helpers import LINK_APP_TOKEN, LINK_CALLBACK, LINK_CLIENT_ID


@pytest.fixture
def link_x(x_server, settings) -> SandboxX:
    x_server.reset()
    x_server.add_app(LINK_APP_TOKEN)
    x_server.add_oauth_client(LINK_CLIENT_ID, [LINK_CALLBACK])
    settings.X_API_BASE, settings.X_BEARER_TOKEN = x_server.base_url, LINK_APP_TOKEN
    settings.X_OAUTH_CLIENT_ID, settings.X_OAUTH_CLIENT_SECRET = LINK_CLIENT_ID, ""
    return x_server
