"""The Bot API calls of community: ``chat_member_statuses`` against the sandbox Telegram."""

from __future__ import annotations

import pytest

from community.botapi import IN_CHAT, chat_member_statuses
from config.errors import ServiceError
from tests.helpers import tenant_bot_token


def test_statuses_of_many_users_at_once(community, group_chat, tg_user, tg):
    tenant = community()
    owner, member, gone, banned, muted, stranger = (
        tg_user(name) for name in ("owner", "member", "gone", "banned", "muted", "stranger")
    )
    chat_id = group_chat(tenant, creator=owner, members=[member, gone, banned, muted])
    tg.set_member(chat_id, gone["id"], "left")
    tg.set_member(chat_id, banned["id"], "kicked")
    tg.set_member(chat_id, muted["id"], "restricted", is_member=True)
    unknown = 5_999_999_999  # not a Telegram user at all
    ids = [owner, member, gone, banned, muted, stranger]
    found = chat_member_statuses(
        token=tenant_bot_token(tenant),
        chat_id=chat_id,
        user_ids=[u["id"] for u in ids] + [unknown],
        concurrency=3,
    )
    assert found == {
        owner["id"]: "creator",
        member["id"]: "member",
        gone["id"]: "left",
        banned["id"]: "kicked",
        muted["id"]: "member",
        stranger["id"]: "left",
        unknown: "left",
    }
    assert {u for u, s in found.items() if s in IN_CHAT} == {owner["id"], member["id"], muted["id"]}
    assert chat_member_statuses(token=tenant_bot_token(tenant), chat_id=chat_id, user_ids=[]) == {}


def test_a_bot_that_cannot_see_the_chat_is_refused(community, group_chat, tg_user):
    tenant = community()
    owner = tg_user("owner2")
    chat_id = group_chat(tenant, creator=owner, bot_in_chat=False)
    with pytest.raises(ServiceError) as refused:
        chat_member_statuses(
            token=tenant_bot_token(tenant), chat_id=chat_id, user_ids=[owner["id"]]
        )
    assert refused.value.code in ("bot_not_in_chat", "telegram_chat_not_found")
