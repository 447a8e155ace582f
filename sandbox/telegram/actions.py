"""What people do in the sandbox's Telegram: write to a bot or in a group, join, add a
bot, promote or remove members, press inline buttons, pay with Stars. Each action stores
what Telegram would store and queues the updates the bots would get.

The caller holds ``world.lock``. Misuse (a user writing in a group they are not in, a
button that is not there) raises SandboxError: Telegram's apps would not allow it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from sandbox.telegram.errors import ApiError, SandboxError
from sandbox.telegram.objects import JSONDict, can_send, command_entities, is_admin, is_present
from sandbox.telegram.world import Conversation, Group, World


def _chat_of(world: World, bot_id: int, chat_id: int, user_id: int) -> Conversation:
    """The chat a user acts in: their private chat with the bot, or a group."""
    if chat_id == user_id:
        chat = world.private(bot_id, user_id, create=True)
        assert chat is not None
        return chat
    return world.group(chat_id)


def send_message(
    world: World, bot_id: int, chat_id: int, user_id: int, text: str, **extra: Any
) -> JSONDict:
    """The user writes ``text`` (``/commands`` get their entities). ``extra``:
    ``reply_to_message_id``, or Message fields copied as they are (media, contact, ...).
    Returns the Update ``bot_id`` gets, or {} when that bot does not get one (privacy
    mode, not in the group, allowed_updates)."""
    world.bot(bot_id)
    user = world.person(user_id)
    chat = _chat_of(world, bot_id, chat_id, user_id)
    if isinstance(chat, Group):
        member = chat.member(user_id)
        if not is_present(member):
            raise SandboxError(
                f"user {user_id} is not a member of group {chat_id}", code="not_a_member"
            )
        if not can_send(member, chat.permissions):
            raise SandboxError(
                f"user {user_id} may not write in group {chat_id}", code="restricted"
            )
    else:
        world.blocked.discard((user_id, bot_id))  # writing to a bot restarts it
    content: JSONDict = {}
    reply_to = extra.pop("reply_to_message_id", None)
    if reply_to is not None:
        try:
            content["reply_to_message"] = world.reply_target(chat, int(reply_to))
        except ApiError:
            raise SandboxError(
                f"no message {reply_to} in chat {chat_id}", code="message_not_found", status=404
            ) from None
    if text:
        content["text"] = text
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
    content.update(copy.deepcopy(extra))
    if not content:
        raise SandboxError("nothing to send", code="empty_message")
    message = world.store(chat, user, **content)
    return world.deliver(chat, message).get(bot_id, {})


def change_member(
    world: World, chat_id: int, user_id: int, status: str, by_user_id: int, **options: Any
) -> list[tuple[int, JSONDict]]:
    """``by_user_id`` changes ``user_id``'s status in the group (joins, adds, promotes,
    restricts, removes). Bots get my_chat_member / chat_member updates, and the group a
    new_chat_members or left_chat_member message when someone comes or goes.
    Returns (bot id, Update) pairs."""
    group = world.group(chat_id)
    by = world.person(by_user_id)
    world.user(user_id)
    actor = group.member(by_user_id)
    if by_user_id != user_id and not is_present(actor):
        raise SandboxError(
            f"user {by_user_id} is not a member of group {chat_id}", code="not_a_member"
        )
    old = world.member_or_left(group, user_id)
    adding = not is_present(old) and status in ("member", "administrator", "creator")
    if by_user_id != user_id and not adding and not is_admin(actor):
        raise SandboxError(
            f"user {by_user_id} is not an administrator of group {chat_id}", code="not_admin"
        )
    try:
        world.set_status(group, user_id, status, **options)
    except ValueError as exc:
        raise SandboxError(str(exc), code="invalid_member") from None
    new = group.members[user_id]
    updates = world.member_changed(group, old, new, by=by)
    subject = world.users[user_id]
    if is_present(new) and not is_present(old):
        message = world.store(group, by, new_chat_members=[copy.deepcopy(subject)])
        updates += list(world.deliver(group, message).items())
    elif is_present(old) and not is_present(new):
        message = world.store(group, by, left_chat_member=copy.deepcopy(subject))
        updates += list(world.deliver(group, message).items())
    return updates


def join(world: World, chat_id: int, user_id: int, bot_id: int | None = None) -> list[JSONDict]:
    """The user joins the group. Returns the updates queued (only ``bot_id``'s if given)."""
    world.person(user_id)
    current = world.group(chat_id).member(user_id)
    if is_present(current):
        raise SandboxError(f"user {user_id} is already in group {chat_id}", code="already_member")
    if current is not None and current["status"] == "kicked":
        raise SandboxError(f"user {user_id} is banned from group {chat_id}", code="banned")
    updates = change_member(world, chat_id, user_id, "member", user_id)
    return [update for bot, update in updates if bot_id is None or bot == bot_id]


def add_bot_to_group(
    world: World, bot_id: int, chat_id: int, by_user_id: int, status: str = "member"
) -> JSONDict:
    """A member adds the bot (as a member or an administrator). Returns the bot's
    my_chat_member Update ({} if its allowed_updates leave those out)."""
    world.bot(bot_id)
    if status not in ("member", "administrator"):
        raise SandboxError("a bot is added as a member or an administrator", code="invalid_member")
    if is_present(world.group(chat_id).member(bot_id)):
        raise SandboxError(f"bot {bot_id} is already in group {chat_id}", code="already_member")
    updates = change_member(world, chat_id, bot_id, status, by_user_id)
    return next(
        (u for bot, u in updates if bot == bot_id and "my_chat_member" in u),
        {},
    )


def press_button(
    world: World, bot_id: int, chat_id: int, user_id: int, message_id: int, data: str
) -> JSONDict:
    """The user presses the inline button carrying ``data`` under the bot's message."""
    bot = world.bot(bot_id)
    user = world.person(user_id)
    chat = _chat_of(world, bot_id, chat_id, user_id)
    if isinstance(chat, Group) and not is_present(chat.member(user_id)):
        raise SandboxError(f"user {user_id} is not in group {chat_id}", code="not_a_member")
    message = chat.get(int(message_id))
    if message is None or message["from"]["id"] != bot_id:
        raise SandboxError(
            f"bot {bot_id} has no message {message_id} in chat {chat_id}",
            code="message_not_found",
            status=404,
        )
    buttons = [b for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]
    if not any(b.get("callback_data") == data for b in buttons):
        raise SandboxError(
            f"message {message_id} has no button with callback_data {data!r}", code="no_button"
        )
    query_id = f"{bot_id % 100000:05d}{world.serial():014d}"
    world.callbacks[query_id] = {"bot_id": bot_id, "user_id": user_id, "data": data, "answer": None}
    query = {
        "id": query_id,
        "from": copy.deepcopy(user),
        "message": copy.deepcopy(message),
        # One value per chat, the same for every button in it (Bot API chat_instance).
        "chat_instance": str((abs(chat.id) * 1_000_003 + bot_id) % 10**19),
        "data": data,
    }
    return world.enqueue(bot, "callback_query", query) or {}


def pay_stars(
    world: World,
    bot_id: int,
    user_id: int,
    payload: str,
    amount: int,
    clock: Callable[[], float],
) -> list[JSONDict]:
    """The user pays ``amount`` Stars for the invoice with ``payload``: the bot gets a
    pre_checkout_query now, and the successful_payment message once it answers ok."""
    bot = world.bot(bot_id)
    user = world.person(user_id)
    if not isinstance(amount, int) or amount <= 0:
        raise SandboxError("amount must be a positive number of Stars", code="invalid_amount")
    query_id = f"{world.serial():019d}"
    world.pre_checkouts[query_id] = {
        "bot_id": bot_id,
        "user_id": user_id,
        "payload": payload,
        "amount": amount,
        "state": "pending",
        "created": clock(),
    }
    query = {
        "id": query_id,
        "from": copy.deepcopy(user),
        "currency": "XTR",
        "total_amount": amount,
        "invoice_payload": payload,
    }
    update = world.enqueue(bot, "pre_checkout_query", query)
    return [update] if update else []
