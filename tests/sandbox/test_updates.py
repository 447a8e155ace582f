"""Getting updates: getUpdates' offset, limit, timeout and allowed_updates semantics,
409 conflicts like Telegram's, which group messages a bot sees (privacy mode), and a
python-telegram-bot Application polling the sandbox end to end."""

from __future__ import annotations

import asyncio
import threading

import pytest
import telegram
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

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
    result,
)


def _ids(updates: list[dict]) -> list[int]:
    return [u["update_id"] for u in updates]


def test_offset_confirms_earlier_updates_and_limit_caps_the_batch(world):
    first = _ids(result(world, "getUpdates"))  # Alice's /start from the fixture
    for n in range(3):
        world.send_message(BOT_ID, ALICE, ALICE, f"message {n}")

    everything = result(world, "getUpdates")
    assert _ids(everything) == [first[0], first[0] + 1, first[0] + 2, first[0] + 3]
    # Without a new offset nothing is confirmed: the same updates come again.
    assert result(world, "getUpdates") == everything

    batch = result(world, "getUpdates", {"offset": everything[1]["update_id"], "limit": 2})
    assert _ids(batch) == _ids(everything[1:3])
    assert [u["message"]["text"] for u in batch] == ["message 0", "message 1"]
    # Confirmed ones are gone for good, even when asking from the start again.
    assert _ids(result(world, "getUpdates", {"offset": 0})) == _ids(everything[1:])
    assert result(world, "getUpdates", {"offset": everything[-1]["update_id"] + 1}) == []
    assert world.pending_updates(BOT_ID) == []


def test_negative_offset_keeps_only_the_last_updates(world):
    for n in range(4):
        world.send_message(BOT_ID, ALICE, ALICE, f"m{n}")

    last_two = result(world, "getUpdates", {"offset": -2})

    assert [u["message"]["text"] for u in last_two] == ["m2", "m3"]
    assert result(world, "getUpdates") == last_two  # everything before was forgotten


def test_long_poll_returns_as_soon_as_an_update_arrives(world):
    [start] = result(world, "getUpdates")
    offset = start["update_id"] + 1
    timer = threading.Timer(0.2, world.send_message, (BOT_ID, ALICE, ALICE, "late"))
    timer.start()

    # A 30-second poll: it must come back with the message, not run into its timeout.
    updates = result(world, "getUpdates", {"offset": offset, "timeout": 30})

    timer.join()
    assert [u["message"]["text"] for u in updates] == ["late"]


def test_long_poll_without_updates_answers_an_empty_list_at_its_timeout(world):
    [start] = result(world, "getUpdates")
    assert result(world, "getUpdates", {"offset": start["update_id"] + 1, "timeout": 1}) == []


def test_a_second_poller_terminates_the_first_with_409(world):
    [start] = result(world, "getUpdates")
    offset = start["update_id"] + 1

    async def scenario():
        async with (
            telegram.Bot(TOKEN, base_url=f"{world.base_url}/bot") as first,
            telegram.Bot(TOKEN, base_url=f"{world.base_url}/bot") as second,
        ):
            waiting = asyncio.create_task(first.get_updates(offset=offset, timeout=30))
            await asyncio.sleep(0.2)  # let the first poll reach the server
            late = asyncio.create_task(second.get_updates(offset=offset, timeout=30))
            with pytest.raises(telegram.error.Conflict, match="terminated by other getUpdates"):
                await waiting
            world.send_message(BOT_ID, ALICE, ALICE, "for the second")
            return await late

    updates = asyncio.run(scenario())
    assert [u.message.text for u in updates] == ["for the second"]


def test_allowed_updates_persist_and_leave_out_other_kinds_until_changed(world):
    [start] = result(world, "getUpdates", {"allowed_updates": ["callback_query"]})
    offset = start["update_id"] + 1
    world.send_message(BOT_ID, ALICE, ALICE, "ignored")
    assert result(world, "getUpdates", {"offset": offset}) == []  # the setting persisted

    result(world, "getUpdates", {"offset": offset, "allowed_updates": []})  # back to default
    world.send_message(BOT_ID, ALICE, ALICE, "seen")

    assert [u["message"]["text"] for u in result(world, "getUpdates")] == ["seen"]


def test_chat_member_updates_only_for_admin_bots_that_ask(world):
    result(world, "getUpdates", {"offset": -1})
    world.add_user(14, "Dave")
    world.join(GROUP, 14)
    default = result(world, "getUpdates", {"offset": -1})
    assert "chat_member" not in default[-1]  # not asked for: only the service message

    result(
        world,
        "getUpdates",
        {"offset": default[-1]["update_id"] + 1, "allowed_updates": ["chat_member"]},
    )
    world.change_member(GROUP, 14, "left", 14)
    [update] = result(world, "getUpdates")

    change = update["chat_member"]
    assert change["old_chat_member"]["status"] == "member"
    assert change["new_chat_member"] == {"status": "left", "user": world.add_user(14, "Dave")}
    assert change["from"]["id"] == 14 and change["chat"]["id"] == GROUP


def test_privacy_mode_decides_which_group_messages_a_bot_gets(world):
    world.set_member(GROUP, BOT_ID, "member")  # no longer an admin: privacy mode applies
    [mark] = result(world, "getUpdates")
    offset = mark["update_id"] + 1
    bot_said = result(world, "sendMessage", {"chat_id": GROUP, "text": "hi all"})

    got = {
        "plain": world.send_message(BOT_ID, GROUP, CAROL, "just chatting"),
        "command": world.send_message(BOT_ID, GROUP, CAROL, "/rank"),
        "own command": world.send_message(BOT_ID, GROUP, CAROL, "/rank@loop_bot"),
        "other's command": world.send_message(BOT_ID, GROUP, CAROL, "/rank@other_bot"),
        "reply to it": world.send_message(
            BOT_ID, GROUP, BOB, "thanks", reply_to_message_id=bot_said["message_id"]
        ),
    }

    assert {k: bool(v) for k, v in got.items()} == {
        "plain": False,
        "command": True,
        "own command": True,
        "other's command": False,
        "reply to it": True,
    }
    texts = [u["message"]["text"] for u in result(world, "getUpdates", {"offset": offset})]
    assert texts == ["/rank", "/rank@loop_bot", "thanks"]
    # The other bot is an admin: it sees everything, its own command included.
    other = result(world, "getUpdates", token=OTHER_TOKEN)
    assert "just chatting" in [u["message"].get("text") for u in other if "message" in u]


def test_bot_that_reads_all_messages_gets_plain_group_text(world):
    world.add_bot(TOKEN, username="loop_bot", can_read_all_group_messages=True)
    world.set_member(GROUP, BOT_ID, "member")
    assert world.send_message(BOT_ID, GROUP, CAROL, "just chatting")["message"]["text"] == (
        "just chatting"
    )
    assert result(world, "getMe")["can_read_all_group_messages"] is True


def test_bots_get_nothing_from_groups_they_are_not_in(world):
    world.set_member(GROUP, OTHER_BOT_ID, "left")
    world.send_message(OTHER_BOT_ID, GROUP, ALICE, "/start")
    assert result(world, "getUpdates", token=OTHER_TOKEN) == []


def test_users_act_only_where_telegram_lets_them(world):
    from sandbox.telegram import SandboxError

    world.add_user(15, "Eve")
    with pytest.raises(SandboxError, match="not a member"):
        world.send_message(BOT_ID, GROUP, 15, "hello")
    world.set_member(GROUP, CAROL, "restricted", can_send_messages=False)
    with pytest.raises(SandboxError, match="may not write"):
        world.send_message(BOT_ID, GROUP, CAROL, "hello")
    with pytest.raises(SandboxError, match="already in group"):
        world.join(GROUP, ALICE)
    with pytest.raises(SandboxError, match="no button"):
        sent = result(world, "sendMessage", {"chat_id": ALICE, "text": "no buttons"})
        world.press_button(BOT_ID, ALICE, ALICE, sent["message_id"], "x")


def test_get_updates_errors_like_telegram(world):
    result(world, "setWebhook", {"url": "http://127.0.0.1:9/hook"})

    assert error(world, "getUpdates") == (
        409,
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first",
    )


def test_an_application_polls_answers_commands_and_button_presses(world):
    """python-telegram-bot's Updater long-polls the sandbox; handlers reply and answer."""
    done = threading.Event()

    async def start(update, context):
        keyboard = telegram.InlineKeyboardMarkup(
            [[telegram.InlineKeyboardButton("Join raid", callback_data="join:7")]]
        )
        await update.message.reply_text("Welcome!", reply_markup=keyboard)

    async def pressed(update, context):
        await update.callback_query.answer("Joined raid 7")
        await update.callback_query.edit_message_text("You joined raid 7.")
        done.set()

    async def scenario():
        application = (
            Application.builder()
            .token(TOKEN)
            .base_url(f"{world.base_url}/bot")
            .get_updates_read_timeout(5)
            .build()
        )
        application.add_handler(CommandHandler("start", start))
        application.add_handler(CallbackQueryHandler(pressed, pattern="^join:"))
        async with application:
            await application.updater.start_polling(poll_interval=0, timeout=2)
            await application.start()
            # Alice's /start from the fixture is already waiting.
            for _ in range(100):
                welcome = [m for m in world.sent(BOT_ID, chat_id=ALICE) if m["text"] == "Welcome!"]
                if welcome:
                    break
                await asyncio.sleep(0.05)
            update = world.press_button(BOT_ID, ALICE, ALICE, welcome[0]["message_id"], "join:7")
            await asyncio.get_running_loop().run_in_executor(None, done.wait, 10)
            await application.updater.stop()
            await application.stop()
            return update

    update = asyncio.run(scenario())

    assert done.is_set()
    [message] = world.sent(BOT_ID, chat_id=ALICE)
    assert message["text"] == "You joined raid 7." and "reply_markup" not in message
    assert world.callback_answer(update["callback_query"]["id"])["text"] == "Joined raid 7"
    assert world.pending_updates(BOT_ID) == []  # the Updater confirmed what it handled
