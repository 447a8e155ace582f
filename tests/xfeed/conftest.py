"""xfeed fixtures: the sandbox X (``x_server``, tests/sandbox_fixtures.py) emptied, with
the platform's app token and the project's accounts (``x``); a group bound to a
community (``bound_group``)."""

from __future__ import annotations

import itertools

import pytest
from django_tenants.utils import tenant_context

from community.models import Group
from sandbox.x import SandboxX
from tenancy.services import chat_bind

APP_TOKEN = "xfeed-platform-app-token"
_chats = itertools.count(1)


@pytest.fixture
def x(x_server, settings) -> SandboxX:
    """The sandbox X, emptied, with the platform's app token and two accounts."""
    x_server.reset()
    x_server.add_app(APP_TOKEN)
    x_server.add_account("project", name="The Project")
    x_server.add_account("founder", name="Founder")
    settings.X_API_BASE, settings.X_BEARER_TOKEN = x_server.base_url, APP_TOKEN
    return x_server


@pytest.fixture
def bound_group():
    """``bound_group(tenant)``: a group bound to ``tenant`` (as binding leaves it, without
    asking Telegram); returns its chat id."""

    def make(tenant, *, title: str = "Fans") -> int:
        chat_id = -1_007_000_000_000 - next(_chats)
        chat_bind(tenant=tenant, chat_id=chat_id, title=title)
        with tenant_context(tenant):
            Group.objects.create(chat_id=chat_id, title=title)
        return chat_id

    return make
