"""community.botapi against the sandbox Telegram: getChatMember of one user as a status,
and ``chat_member_statuses`` of many at once."""

from __future__ import annotations

import pytest

from community.botapi import IN_CHAT, chat_member_status, chat_member_statuses
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


@pytest.fixture
def chat(tg, tenant):
    token = tenant_bot_token(tenant)
    bot = tg.add_bot(token, username="member_check_bot")
    tg.add_group(-1_009_100_000_001, title="Checked")
    tg.set_member(-1_009_100_000_001, bot["id"], "administrator")
    return token, -1_009_100_000_001


@pytest.mark.parametrize(
    ("status", "options", "expected"),
    [
        ("member", {}, "member"),
        ("administrator", {}, "administrator"),
        ("left", {}, "left"),
        ("kicked", {}, "kicked"),
        ("restricted", {"is_member": True}, "member"),
        ("restricted", {"is_member": False}, "left"),
    ],
)
def test_chat_member_status_is_what_telegram_says(tg, chat, status, options, expected):
    token, chat_id = chat
    tg.add_user(9_100_001, "Mia")
    tg.set_member(chat_id, 9_100_001, status, **options)
    assert chat_member_status(token=token, chat_id=chat_id, user_id=9_100_001) == expected


def test_a_chat_the_bot_cannot_see_is_a_service_error(tg, chat):
    token, _ = chat
    with pytest.raises(ServiceError) as refused:
        chat_member_status(token=token, chat_id=-1_009_100_000_999, user_id=1)
    assert refused.value.code in {"telegram_chat_not_found", "bot_not_in_chat"}
