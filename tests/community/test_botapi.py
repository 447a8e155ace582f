"""community.botapi against the sandbox Telegram: getChatMember as a status."""

from __future__ import annotations

import pytest

from community.botapi import chat_member_status
from config.errors import ServiceError
from tests.helpers import tenant_bot_token


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
        ("restricted", {"is_member": True}, "restricted"),
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
