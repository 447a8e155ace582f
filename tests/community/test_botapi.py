"""``chat_member_status``: what Telegram says someone is in a chat now (getChatMember on
the sandbox Telegram), and a refusal when the bot cannot see the chat."""

from __future__ import annotations

import pytest

from community.botapi import chat_member_status
from config.errors import ServiceError

TOKEN = "610001:member-status-bot"
GROUP = -1_006_600_000_001


@pytest.fixture
def chat(tg):
    bot = tg.add_bot(TOKEN, username="status_bot")
    tg.add_group(GROUP, title="Group")
    tg.set_member(GROUP, bot["id"], "administrator")
    tg.add_user(610_101, "Mia")
    tg.add_user(610_102, "Leo")
    tg.set_member(GROUP, 610_101, "member")
    return bot


def test_it_answers_telegrams_status_of_the_user(chat, tg):
    assert chat_member_status(token=TOKEN, chat_id=GROUP, user_id=610_101) == "member"
    assert chat_member_status(token=TOKEN, chat_id=GROUP, user_id=610_102) == "left"
    tg.set_member(GROUP, 610_101, "kicked")
    assert chat_member_status(token=TOKEN, chat_id=GROUP, user_id=610_101) == "kicked"
    # Someone Telegram does not know is not in the chat either.
    assert chat_member_status(token=TOKEN, chat_id=GROUP, user_id=610_999) == "left"


def test_a_chat_the_bot_cannot_see_is_a_service_error(chat, tg):
    tg.add_group(GROUP - 1, title="Elsewhere")
    with pytest.raises(ServiceError) as refused:
        chat_member_status(token=TOKEN, chat_id=GROUP - 1, user_id=610_101)
    assert refused.value.code in {"bot_not_in_chat", "telegram_chat_not_found"}
