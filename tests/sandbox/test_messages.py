"""Messages the bots send, edit and delete, inline keyboards and their button presses,
photos and files, and Telegram's error answers for each."""

from __future__ import annotations

import asyncio

import pytest
import telegram

from tests.sandbox.helpers import (
    ALICE,
    BOB,
    BOT_ID,
    CAROL,
    GROUP,
    OTHER_BOT_ID,
    OTHER_TOKEN,
    TOKEN,
    error,
    http,
    ptb,
    result,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x02\x80\x00\x00\x01\xe0" + b"\x00" * 16
KEYBOARD = {"inline_keyboard": [[{"text": "Yes", "callback_data": "vote:yes"}]]}


def test_sent_messages_are_recorded_per_chat_with_edits_and_deletes_applied(world):
    one = result(world, "sendMessage", {"chat_id": GROUP, "text": "one"})
    two = result(world, "sendMessage", {"chat_id": GROUP, "text": "two"}, how="json")
    result(world, "sendMessage", {"chat_id": ALICE, "text": "private"})
    result(
        world, "editMessageText", {"chat_id": GROUP, "message_id": two["message_id"], "text": "2"}
    )
    result(world, "deleteMessage", {"chat_id": GROUP, "message_id": one["message_id"]})

    [edited] = world.sent(BOT_ID, chat_id=GROUP)
    assert (edited["message_id"], edited["text"]) == (two["message_id"], "2")
    assert isinstance(edited["edit_date"], int)
    assert [m["text"] for m in world.sent(BOT_ID)] == ["2", "private"]
    assert edited["from"] == {
        "id": BOT_ID,
        "is_bot": True,
        "first_name": "Loop",
        "username": "loop_bot",
    }


def test_message_ids_count_per_chat_and_private_chats_are_per_bot(world):
    world.send_message(OTHER_BOT_ID, ALICE, ALICE, "/start")  # Alice starts the other bot too
    first = result(world, "sendMessage", {"chat_id": ALICE, "text": "a"})
    other = result(world, "sendMessage", {"chat_id": ALICE, "text": "b"}, token=OTHER_TOKEN)
    group = result(world, "sendMessage", {"chat_id": GROUP, "text": "c"})

    # Alice's /start was message 1 in each private chat; the group had none yet.
    assert (first["message_id"], other["message_id"], group["message_id"]) == (2, 2, 1)
    assert first["chat"] == {
        "id": ALICE,
        "type": "private",
        "first_name": "Alice",
        "last_name": "Liddell",
        "username": "alice",
    }
    assert world.chat_messages(ALICE, bot_id=BOT_ID)[0]["text"] == "/start"


def test_parse_mode_is_applied_and_the_markup_removed(world):
    html = result(
        world,
        "sendMessage",
        {"chat_id": ALICE, "text": "<b>Raid</b> &amp; <i>win</i>", "parse_mode": "HTML"},
    )
    markdown = result(
        world,
        "sendMessage",
        {"chat_id": ALICE, "text": "*Raid* ends in 5\\.", "parse_mode": "MarkdownV2"},
    )

    assert html["text"] == "Raid & win"
    assert html["entities"] == [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "italic", "offset": 7, "length": 3},
    ]
    assert markdown["text"] == "Raid ends in 5."
    assert markdown["entities"] == [{"type": "bold", "offset": 0, "length": 4}]


def test_inline_keyboards_are_kept_reply_keyboards_are_not(world):
    inline = result(
        world, "sendMessage", {"chat_id": ALICE, "text": "vote", "reply_markup": KEYBOARD}
    )
    reply = result(
        world,
        "sendMessage",
        {"chat_id": ALICE, "text": "pick", "reply_markup": {"keyboard": [[{"text": "A"}]]}},
    )

    assert inline["reply_markup"] == KEYBOARD
    assert "reply_markup" not in reply


def test_a_button_press_reaches_the_bot_and_its_answer_is_recorded(world):
    message = result(
        world, "sendMessage", {"chat_id": GROUP, "text": "vote", "reply_markup": KEYBOARD}
    )

    update = world.press_button(BOT_ID, GROUP, CAROL, message["message_id"], "vote:yes")
    query = update["callback_query"]
    assert query["data"] == "vote:yes" and query["from"]["id"] == CAROL
    assert query["message"]["message_id"] == message["message_id"]
    assert world.callback_answer(query["id"]) is None

    answer = {"callback_query_id": query["id"], "text": "Counted!", "show_alert": True}
    assert result(world, "answerCallbackQuery", answer) is True
    assert world.callback_answer(query["id"]) == {
        "text": "Counted!",
        "show_alert": True,
        "url": "",
        "cache_time": 0,
    }
    # A query is answered once, and only by its own bot.
    assert error(world, "answerCallbackQuery", answer)[1].startswith(
        "Bad Request: query is too old"
    )
    other = world.press_button(BOT_ID, GROUP, CAROL, message["message_id"], "vote:yes")
    assert error(
        world,
        "answerCallbackQuery",
        {"callback_query_id": other["callback_query"]["id"]},
        token=OTHER_TOKEN,
    ) == (400, "Bad Request: query is too old and response timeout expired or query ID is invalid")


def test_editing_without_reply_markup_removes_the_keyboard(world):
    message = result(
        world, "sendMessage", {"chat_id": ALICE, "text": "vote", "reply_markup": KEYBOARD}
    )

    edited = result(
        world,
        "editMessageText",
        {"chat_id": ALICE, "message_id": message["message_id"], "text": "closed"},
    )

    assert edited["text"] == "closed" and "reply_markup" not in edited


def test_photos_upload_reuse_and_download(world):
    async def scenario():
        async with ptb(world) as bot:
            sent = await bot.send_photo(GROUP, photo=PNG, caption="banner")
            again = await bot.send_photo(ALICE, photo=sent.photo[-1].file_id)
            file = await bot.get_file(sent.photo[-1].file_id)
            return sent, again, bytes(await file.download_as_bytearray())

    sent, again, downloaded = asyncio.run(scenario())

    assert (sent.photo[-1].width, sent.photo[-1].height) == (640, 480)  # read from the PNG
    assert sent.caption == "banner"
    assert again.photo[-1].file_id == sent.photo[-1].file_id
    assert downloaded == PNG
    page_image = http().get(f"{world.base_url}/sandbox/api/files/{sent.photo[-1].file_id}")
    assert page_image.content == PNG


ERRORS = [
    ("getChat", {"chat_id": -42}, 400, "Bad Request: chat not found"),
    ("getChat", {}, 400, "Bad Request: chat_id is empty"),
    ("getChatMember", {"chat_id": GROUP, "user_id": 999}, 400, "Bad Request: user not found"),
    ("sendMessage", {"chat_id": GROUP, "text": " "}, 400, "Bad Request: message text is empty"),
    (
        "sendMessage",
        {"chat_id": GROUP, "text": "x" * 4097},
        400,
        "Bad Request: message is too long",
    ),
    (
        "sendMessage",
        {"chat_id": BOB, "text": "hi"},
        403,
        "Forbidden: bot can't initiate conversation with a user",
    ),
    (
        "sendMessage",
        {"chat_id": GROUP, "text": "<b>unclosed", "parse_mode": "HTML"},
        400,
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\" "
        "at byte offset 0",
    ),
    (
        "sendMessage",
        {"chat_id": GROUP, "text": "1.5x", "parse_mode": "MarkdownV2"},
        400,
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with "
        "the preceding '\\'",
    ),
    (
        "sendMessage",
        {"chat_id": GROUP, "text": "x", "reply_markup": {"inline_keyboard": [[{"text": "a"}]]}},
        400,
        "Bad Request: text buttons are unallowed in the inline keyboard",
    ),
    (
        "sendMessage",
        {
            "chat_id": GROUP,
            "text": "x",
            "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "d" * 65}]]},
        },
        400,
        "Bad Request: BUTTON_DATA_INVALID",
    ),
    (
        "sendMessage",
        {"chat_id": GROUP, "text": "x", "reply_parameters": {"message_id": 999}},
        400,
        "Bad Request: message to be replied not found",
    ),
    (
        "editMessageText",
        {"chat_id": GROUP, "message_id": 999, "text": "x"},
        400,
        "Bad Request: message to edit not found",
    ),
    (
        "deleteMessage",
        {"chat_id": GROUP, "message_id": 999},
        400,
        "Bad Request: message to delete not found",
    ),
    (
        "sendPhoto",
        {"chat_id": GROUP, "photo": "nope"},
        400,
        "Bad Request: wrong file identifier/HTTP URL specified",
    ),
    ("getFile", {"file_id": "nope"}, 400, "Bad Request: invalid file_id"),
    (
        "sendChatAction",
        {"chat_id": GROUP, "action": "dancing"},
        400,
        "Bad Request: wrong parameter action in request",
    ),
    ("getMe", {"token": "1:AAwrongtokenwrongtokenwrongtoken00"}, 401, "Unauthorized"),
    ("getMe", {"token": "not-a-token"}, 404, "Not Found"),
    ("getUpdatez", {}, 404, "Not Found"),
]


@pytest.mark.parametrize(("method", "params", "status", "description"), ERRORS)
def test_errors_have_telegrams_shape_and_words(world, method, params, status, description):
    params = dict(params)
    token = params.pop("token", TOKEN)
    assert error(world, method, params, token=token) == (status, description)


def test_edit_errors_for_foreign_unchanged_and_textless_messages(world):
    world.send_message(BOT_ID, GROUP, CAROL, "/start")
    carols = world.chat_messages(GROUP)[-1]["message_id"]
    mine = result(
        world, "sendMessage", {"chat_id": GROUP, "text": "same", "reply_markup": KEYBOARD}
    )
    photo = result(world, "sendPhoto", {"chat_id": GROUP, "photo": "https://example.org/a.jpg"})

    def edit(message_id, **extra):
        return error(
            world,
            "editMessageText",
            {"chat_id": GROUP, "message_id": message_id, "text": "same", **extra},
        )[1]

    assert edit(carols) == "Bad Request: message can't be edited"
    assert edit(mine["message_id"], reply_markup=KEYBOARD).startswith(
        "Bad Request: message is not modified: specified new message content"
    )
    assert edit(photo["message_id"]) == "Bad Request: there is no text in the message to edit"


def test_who_may_delete_what(world):
    world.set_member(GROUP, BOT_ID, "member")
    world.send_message(BOT_ID, GROUP, CAROL, "/spam")
    carols = world.chat_messages(GROUP)[-1]["message_id"]

    assert error(world, "deleteMessage", {"chat_id": GROUP, "message_id": carols}) == (
        400,
        "Bad Request: message can't be deleted",
    )
    world.set_member(GROUP, BOT_ID, "administrator", can_delete_messages=True)
    assert result(world, "deleteMessage", {"chat_id": GROUP, "message_id": carols}) is True
    # In a private chat a bot deletes the user's messages too.
    alices = world.chat_messages(ALICE, bot_id=BOT_ID)[0]["message_id"]
    assert result(world, "deleteMessage", {"chat_id": ALICE, "message_id": alices}) is True
    assert world.chat_messages(ALICE, bot_id=BOT_ID) == []


def test_bots_outside_a_group_are_forbidden(world):
    world.set_member(GROUP, BOT_ID, "left")
    assert error(world, "sendMessage", {"chat_id": GROUP, "text": "x"}) == (
        403,
        "Forbidden: bot is not a member of the supergroup chat",
    )
    world.set_member(GROUP, BOT_ID, "kicked")
    assert error(world, "getChatAdministrators", {"chat_id": GROUP}) == (
        403,
        "Forbidden: bot was kicked from the supergroup chat",
    )


def test_python_telegram_bot_reads_every_answer(world):
    async def scenario():
        async with telegram.Bot(TOKEN, base_url=f"{world.base_url}/bot") as bot:
            me = await bot.get_me()
            chat = await bot.get_chat(GROUP)
            admins = await bot.get_chat_administrators(GROUP)
            member = await bot.get_chat_member(GROUP, CAROL)
            message = await bot.send_message(GROUP, "hello")
            with pytest.raises(telegram.error.BadRequest, match="Chat not found"):
                await bot.get_chat(-42)
            return me, chat, admins, member, message

    me, chat, admins, member, message = asyncio.run(scenario())
    assert (me.id, me.username, me.is_bot) == (BOT_ID, "loop_bot", True)
    assert (chat.title, chat.type) == ("Loop Fans", "supergroup")
    assert isinstance(admins[0], telegram.ChatMemberOwner) and admins[0].custom_title == "Founder"
    assert isinstance(admins[1], telegram.ChatMemberAdministrator)
    assert isinstance(member, telegram.ChatMemberMember)
    assert (message.text, message.chat.id, message.from_user.id) == ("hello", GROUP, me.id)
    for obj in (me, chat, *admins, member, message):
        assert not obj.api_kwargs, f"PTB saw undocumented fields: {obj.api_kwargs}"
