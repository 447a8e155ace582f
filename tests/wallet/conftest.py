"""Fixtures for the Stars deposit tests, on the sandbox Telegram (``tg``): people, and a
community whose bot administers a group bound to it (``stars_group``)."""

from __future__ import annotations

import itertools

import pytest

from tests.botruntime.helpers import bound_group
from tests.helpers import tenant_bot_token
from tests.wallet.helpers import StarsGroup

_ids = itertools.count(1)


@pytest.fixture
def person(tg):
    """``person(name)``: a Telegram user on the sandbox; returns its id."""

    def make(name: str = "alice") -> int:
        user_id = 7_100_000 + next(_ids)
        tg.add_user(user_id, name.title(), username=f"{name}{user_id}")
        return user_id

    return make


@pytest.fixture
def stars_group(make_tenant, tg, person):
    """``stars_group()``: a community, its bot on the sandbox, a group bound through it
    whose creator (the community's owner, so holding manage_funds) is ``admin``."""

    def make(**kwargs) -> StarsGroup:
        tenant = make_tenant(**kwargs)
        token = tenant_bot_token(tenant)
        tg.add_bot(token, username=f"{tenant.slug.replace('-', '_')}_bot", first_name=tenant.name)
        bot_id = int(token.split(":", 1)[0])
        admin = person("admin")
        chat_id = bound_group(tg, tenant, bot_id, admin, "Moon Group")
        return StarsGroup(tg=tg, tenant=tenant, bot_id=bot_id, chat_id=chat_id, admin=admin)

    return make


PLATFORM_BOT_ID = 690_000_777


@pytest.fixture
def platform_staff(db):
    """A staff user who started the platform bot in private: platform alerts reach them."""
    from accounts.services import user_start, user_touch
    from tenancy.selectors import tenant_get

    profile = {"id": 4_070_001, "username": "ops", "first_name": "Ops"}
    staff = user_touch(profile=profile)
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    user_start(
        tenant=tenant_get(slug="public"), profile=profile, bot_id=PLATFORM_BOT_ID, private_chat=True
    )
    return staff
