"""Messages: sendMessage, sendPhoto, editMessageText, editMessageReplyMarkup,
deleteMessage, answerCallbackQuery, sendChatAction, getFile."""

from __future__ import annotations

import copy
import re
import struct
from typing import Any

from sandbox.telegram.errors import QUERY_TOO_OLD, bad_request
from sandbox.telegram.formatting import parse
from sandbox.telegram.methods.registry import Call, method
from sandbox.telegram.objects import JSONDict, has_right
from sandbox.telegram.params import Upload
from sandbox.telegram.world import Conversation, Group

MESSAGE_MAX_LENGTH = 4096
CAPTION_MAX_LENGTH = 1024
DELETE_WINDOW_SECONDS = 48 * 3600
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
BUTTON_FIELDS = (
    "text",
    "icon_custom_emoji_id",
    "style",
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
BUTTON_ACTIONS = BUTTON_FIELDS[3:]
CHAT_ACTIONS = (
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
)


# ---- shared pieces -------------------------------------------------------------------------
def inline_markup(markup: Any) -> JSONDict | None:
    """The InlineKeyboardMarkup a message keeps. Reply keyboards, ForceReply and
    ReplyKeyboardRemove act on the user's app only: Message.reply_markup never has them."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse inline keyboard markup JSON object")
    kept = []
    for row in rows:
        kept_row = []
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request("can't parse inline keyboard button: Text must be a String")
            if not any(action in button for action in BUTTON_ACTIONS):
                raise bad_request("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not (
                isinstance(data, str) and 1 <= len(data.encode("utf-8")) <= 64
            ):
                raise bad_request("BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not re.match(r"(https?|tg)://\S+$", str(url)):
                raise bad_request("BUTTON_URL_INVALID")
            kept_row.append({k: copy.deepcopy(button[k]) for k in BUTTON_FIELDS if k in button})
        if kept_row:
            kept.append(kept_row)
    return {"inline_keyboard": kept} if kept else None


def formatted(
    call: Call, text: str, *, field: str, entities_field: str
) -> tuple[str, list[JSONDict]]:
    """Text after parse_mode (or with the given entities), as Telegram stores it."""
    parse_mode = call.params.str("parse_mode")
    if parse_mode:
        return parse(text, parse_mode)
    entities = call.params.json(entities_field)
    if entities is None:
        return text, []
    if not isinstance(entities, list) or not all(
        isinstance(e, dict)
        and isinstance(e.get("type"), str)
        and isinstance(e.get("offset"), int)
        and isinstance(e.get("length"), int)
        for e in entities
    ):
        raise bad_request(f"can't parse {field} entities JSON object")
    return text, entities


def _text_content(call: Call, text: str | None) -> JSONDict:
    if text is None or not text.strip():
        raise bad_request("message text is empty")
    plain, entities = formatted(call, text, field="text", entities_field="entities")
    if not plain.strip():
        raise bad_request("message text is empty")
    if len(plain) > MESSAGE_MAX_LENGTH:
        raise bad_request("message is too long")
    content: JSONDict = {"text": plain}
    if entities:
        content["entities"] = entities
    return content


def send(call: Call, **content: Any) -> JSONDict:
    """Store a bot's new message in the chat ``chat_id`` names, after Telegram's checks
    and flood control; return the Message."""
    world, bot, params = call.world, call.bot, call.params
    chat = world.sendable(bot, params.chat_id())
    reply = params.json("reply_parameters")
    if reply is None:
        reply = params.int("reply_to_message_id")
    replied = world.reply_target(chat, reply)
    markup = inline_markup(params.json("reply_markup"))
    call.flood.take(
        bot_id=bot.id,
        chat_id=chat.id,
        is_group=chat.is_group,
        is_send=True,
        paid=params.bool("allow_paid_broadcast"),
    )
    extra: JSONDict = {}
    thread_id = params.int("message_thread_id")
    if thread_id and isinstance(chat, Group):
        extra["message_thread_id"] = thread_id
    if replied is not None:
        extra["reply_to_message"] = replied
    if params.bool("protect_content"):
        extra["has_protected_content"] = True
    if markup is not None:
        extra["reply_markup"] = markup
    return world.store(chat, bot.user, **content, **extra)


def _own_message(call: Call) -> tuple[Conversation, JSONDict]:
    """The bot's own message that an edit names."""
    params = call.params
    if "inline_message_id" in params:
        raise bad_request("MESSAGE_ID_INVALID")  # inline mode is not emulated
    chat = call.world.chat_for(call.bot, params.chat_id())
    message_id = params.int("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    message = chat.get(message_id)
    if message is None:
        raise bad_request("message to edit not found")
    if message["from"]["id"] != call.bot.id:
        raise bad_request("message can't be edited")
    return chat, message


def _apply_edit(call: Call, chat: Conversation, message: JSONDict, changes: JSONDict) -> JSONDict:
    if all(message.get(key) == value for key, value in changes.items()):
        raise bad_request(NOT_MODIFIED)
    call.flood.take(bot_id=call.bot.id, chat_id=chat.id, is_group=chat.is_group, is_send=False)
    for key, value in changes.items():
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value
    message["edit_date"] = call.world.now()
    return copy.deepcopy(message)


# ---- methods -------------------------------------------------------------------------------
@method("sendMessage")
def send_message(call: Call) -> JSONDict:
    content = _text_content(call, call.params.str("text"))
    options = call.params.json("link_preview_options")
    if isinstance(options, dict) and options:
        content["link_preview_options"] = options
    return send(call, **content)


@method("sendPhoto")
def send_photo(call: Call) -> JSONDict:
    params = call.params
    if "photo" not in params:
        raise bad_request("there is no photo in the request")
    content: JSONDict = {}
    caption = params.str("caption")
    if caption:
        plain, entities = formatted(
            call, caption, field="caption", entities_field="caption_entities"
        )
        if len(plain) > CAPTION_MAX_LENGTH:
            raise bad_request("message caption is too long")
        content["caption"] = plain
        if entities:
            content["caption_entities"] = entities
        if params.bool("show_caption_above_media"):
            content["show_caption_above_media"] = True
    if params.bool("has_spoiler"):
        content["has_media_spoiler"] = True
    photo = _photo_file(call)
    sizes = [
        {
            "file_id": photo["file_id"],
            "file_unique_id": photo["file_unique_id"],
            "width": photo["width"],
            "height": photo["height"],
            "file_size": photo["file_size"],
        }
    ]
    return send(call, photo=sizes, **content)


def _photo_file(call: Call) -> JSONDict:
    """The stored file a sendPhoto names: a new upload, a known file_id, or a URL (which
    the sandbox records without fetching: it works offline)."""
    world, params = call.world, call.params
    upload = params.files.get("photo")
    value = params.str("photo") or ""
    if upload is None and value.startswith("attach://"):
        upload = params.files.get(value[len("attach://") :])
    if upload is not None:
        return store_file(call, upload)
    if value in world.files:
        return world.files[value]
    if re.match(r"https?://\S+$", value):
        return store_file(call, Upload(filename=value, content_type="image/jpeg", data=b""))
    raise bad_request("wrong file identifier/HTTP URL specified")


def store_file(call: Call, upload: Upload) -> JSONDict:
    world = call.world
    n = world.serial()
    width, height = _image_size(upload.data)
    record: JSONDict = {
        "file_id": f"AgACAgIAAxkBAAI{n:06d}sandbox",
        "file_unique_id": f"AQAD{n:06d}",
        "file_size": len(upload.data),
        "file_path": f"photos/file_{n}.jpg",
        "width": width,
        "height": height,
        "data": upload.data,
        "content_type": upload.content_type,
        "bot_id": call.bot.id,
    }
    world.files[record["file_id"]] = record
    return record


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG or GIF; 640x640 for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    return 640, 640


@method("getFile")
def get_file(call: Call) -> JSONDict:
    file_id = call.params.require_str("file_id")
    record = call.world.files.get(file_id)
    if record is None:
        raise bad_request("invalid file_id")
    return {
        "file_id": record["file_id"],
        "file_unique_id": record["file_unique_id"],
        "file_size": record["file_size"],
        "file_path": record["file_path"],
    }


@method("editMessageText")
def edit_message_text(call: Call) -> JSONDict:
    chat, message = _own_message(call)
    if "text" not in message:
        raise bad_request("there is no text in the message to edit")
    text = call.params.str("text")
    if text is None or not text.strip():
        raise bad_request("text must be non-empty")
    plain, entities = formatted(call, text, field="text", entities_field="entities")
    if len(plain) > MESSAGE_MAX_LENGTH:
        raise bad_request("MESSAGE_TOO_LONG")
    # Without reply_markup an edit removes the inline keyboard, as on Telegram.
    markup = inline_markup(call.params.json("reply_markup"))
    changes = {"text": plain, "entities": entities or None, "reply_markup": markup}
    return _apply_edit(call, chat, message, changes)


@method("editMessageReplyMarkup")
def edit_message_reply_markup(call: Call) -> JSONDict:
    chat, message = _own_message(call)
    markup = inline_markup(call.params.json("reply_markup"))
    return _apply_edit(call, chat, message, {"reply_markup": markup})


@method("deleteMessage")
def delete_message(call: Call) -> bool:
    world, bot, params = call.world, call.bot, call.params
    chat = world.chat_for(bot, params.chat_id())
    message_id = params.int("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    stored = chat.messages.get(message_id)
    if stored is None or stored.deleted:
        raise bad_request("message to delete not found")
    moderator = isinstance(chat, Group) and has_right(chat.member(bot.id), "can_delete_messages")
    own = stored.message["from"]["id"] == bot.id
    # Bots delete their own messages anywhere, anything in private chats, and anything
    # in a group where they hold can_delete_messages; others only within 48 hours.
    if not (own or moderator or not chat.is_group):
        raise bad_request("message can't be deleted")
    if not moderator and world.now() - stored.message["date"] > DELETE_WINDOW_SECONDS:
        raise bad_request("message can't be deleted for everyone")
    stored.deleted = True
    return True


@method("answerCallbackQuery")
def answer_callback_query(call: Call) -> bool:
    params = call.params
    query_id = params.require_str("callback_query_id")
    record = call.world.callbacks.get(query_id)
    if record is None or record["bot_id"] != call.bot.id or record["answer"] is not None:
        raise bad_request(QUERY_TOO_OLD)
    record["answer"] = {
        "text": params.str("text") or "",
        "show_alert": params.bool("show_alert"),
        "url": params.str("url") or "",
        "cache_time": params.int("cache_time", default=0),
    }
    return True


@method("sendChatAction")
def send_chat_action(call: Call) -> bool:
    action = call.params.str("action")
    call.world.sendable(call.bot, call.params.chat_id())
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True
