"""The control API under ``/sandbox/api/``: JSON over HTTP for the web page, the demo and
tests in other processes. Each route calls the SandboxTelegram method of the same name;
errors answer ``{"detail": ..., "code": ...}`` like the platform's API.

    GET  /sandbox/api/state                          snapshot(): bots, users, groups
    POST /sandbox/api/reset                          reset()
    POST /sandbox/api/bots                           add_bot(token, username, first_name)
    POST /sandbox/api/users                          add_user(id, first_name, username, ...)
    POST /sandbox/api/groups                         add_group(id, title, type, username)
    POST /sandbox/api/groups/{chat_id}/members       set_member(user_id, status, **options)
    POST /sandbox/api/groups/{chat_id}/join          join(user_id, bot_id)
    POST /sandbox/api/groups/{chat_id}/bots          add_bot_to_group(bot_id, by_user_id, status)
    POST /sandbox/api/groups/{chat_id}/status        change_member(user_id, status, by_user_id)
    POST /sandbox/api/users/{user_id}/block          block_bot(bot_id)
    POST /sandbox/api/users/{user_id}/unblock        unblock_bot(bot_id)
    POST /sandbox/api/messages                       send_message(bot_id, chat_id, user_id, text)
    POST /sandbox/api/buttons                        press_button(bot_id, chat_id, user_id,
                                                                  message_id, data)
    GET  /sandbox/api/callbacks/{query_id}           callback_answer()
    POST /sandbox/api/payments                       pay_stars(bot_id, user_id, payload, amount)
    POST /sandbox/api/invoices/pay                   pay_invoice(bot_id, chat_id, user_id,
                                                                 message_id)
    POST /sandbox/api/bots/{bot_id}/refunds          refund_star_payment(user_id,
                                                 telegram_payment_charge_id): the owner refunds
    GET  /sandbox/api/bots/{bot_id}/stars            {"balance", "transactions"}: the bot's Stars
    GET  /sandbox/api/files/{file_id}                file(): a photo a bot uploaded
    GET  /sandbox/api/chats/{chat_id}/messages       chat_messages(?bot_id=)
    GET  /sandbox/api/bots/{bot_id}/sent             sent(?chat_id=)
    GET  /sandbox/api/bots/{bot_id}/calls            calls(?method=)
    GET  /sandbox/api/bots/{bot_id}/updates          pending_updates()
    POST /sandbox/api/bots/{bot_id}/web-app          web_app_url(user_id, url): open a Mini App
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox.serving import Handler, json_endpoint, json_error
from sandbox.telegram.errors import SandboxError

if TYPE_CHECKING:
    from sandbox.telegram.server import SandboxTelegram


def _endpoint(func: Callable[[web.Request, dict[str, Any]], Any], status: int = 200) -> Handler:
    return json_endpoint(func, errors=(SandboxError,), status=status)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    return int(value)


def _optional_int(value: Any) -> int | None:
    return None if value in (None, "") else _int(value)


def _path_int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise SandboxError(f"{name} must be a number", code="invalid", status=404) from None


def control_routes(tg: SandboxTelegram) -> list[web.RouteDef]:
    def options(body: dict[str, Any], *named: str) -> dict[str, Any]:
        return {k: v for k, v in body.items() if k not in named}

    def state(request, body):
        return tg.snapshot()

    def reset(request, body):
        tg.reset()

    def add_bot(request, body):
        return tg.add_bot(
            str(body["token"]),
            username=body.get("username") or None,
            first_name=body.get("first_name") or None,
            can_read_all_group_messages=bool(body.get("can_read_all_group_messages", False)),
        )

    def add_user(request, body):
        return tg.add_user(
            _optional_int(body.get("id")),
            body.get("first_name") or None,
            username=body.get("username") or None,
            last_name=body.get("last_name") or None,
            language_code=body.get("language_code") or None,
            is_premium=bool(body.get("is_premium", False)),
        )

    def add_group(request, body):
        return tg.add_group(
            _optional_int(body.get("id")),
            title=str(body.get("title") or "Group"),
            type=str(body.get("type") or "supergroup"),
            username=body.get("username") or None,
            description=str(body.get("description") or ""),
        )

    def set_member(request, body):
        return tg.set_member(
            _path_int(request, "chat_id"),
            _int(body["user_id"]),
            str(body.get("status") or "member"),
            **options(body, "user_id", "status"),
        )

    def join(request, body):
        return tg.join(
            _path_int(request, "chat_id"), _int(body["user_id"]), _optional_int(body.get("bot_id"))
        )

    def add_bot_to_group(request, body):
        return tg.add_bot_to_group(
            _int(body["bot_id"]),
            _path_int(request, "chat_id"),
            _int(body["by_user_id"]),
            str(body.get("status") or "member"),
        )

    def change_member(request, body):
        return tg.change_member(
            _path_int(request, "chat_id"),
            _int(body["user_id"]),
            str(body["status"]),
            _int(body["by_user_id"]),
            **options(body, "user_id", "status", "by_user_id"),
        )

    def block(request, body):
        tg.block_bot(_path_int(request, "user_id"), _int(body["bot_id"]))

    def unblock(request, body):
        tg.unblock_bot(_path_int(request, "user_id"), _int(body["bot_id"]))

    def send_message(request, body):
        extra = {}
        if body.get("reply_to_message_id") not in (None, ""):
            extra["reply_to_message_id"] = _int(body["reply_to_message_id"])
        return tg.send_message(
            _int(body["bot_id"]),
            _int(body["chat_id"]),
            _int(body["user_id"]),
            str(body["text"]),
            **extra,
        )

    def press_button(request, body):
        return tg.press_button(
            _int(body["bot_id"]),
            _int(body["chat_id"]),
            _int(body["user_id"]),
            _int(body["message_id"]),
            str(body["data"]),
        )

    def callback_answer(request, body):
        return {"answer": tg.callback_answer(request.match_info["query_id"])}

    def pay_stars(request, body):
        return tg.pay_stars(
            _int(body["bot_id"]), _int(body["user_id"]), str(body["payload"]), _int(body["amount"])
        )

    def pay_invoice(request, body):
        return tg.pay_invoice(
            _int(body["bot_id"]),
            _int(body["chat_id"]),
            _int(body["user_id"]),
            _int(body["message_id"]),
        )

    def refund(request, body):
        tg.refund_star_payment(
            _path_int(request, "bot_id"),
            _int(body["user_id"]),
            str(body["telegram_payment_charge_id"]),
        )

    def stars(request, body):
        bot_id = _path_int(request, "bot_id")
        return {"balance": tg.star_balance(bot_id), "transactions": tg.star_transactions(bot_id)}

    def chat_messages(request, body):
        return tg.chat_messages(
            _path_int(request, "chat_id"), bot_id=_optional_int(request.query.get("bot_id"))
        )

    def sent(request, body):
        return tg.sent(
            _path_int(request, "bot_id"), chat_id=_optional_int(request.query.get("chat_id"))
        )

    def calls(request, body):
        return tg.calls(_path_int(request, "bot_id"), method=request.query.get("method"))

    def web_app_url(request, body):
        url = tg.web_app_url(
            _path_int(request, "bot_id"),
            _int(body["user_id"]),
            str(body["url"]),
            chat_type=str(body.get("chat_type") or "private"),
        )
        return {"url": url}

    def pending_updates(request, body):
        return tg.pending_updates(_path_int(request, "bot_id"))

    async def file(request: web.Request) -> web.Response:
        found = tg.file(request.match_info["file_id"])
        if found is None:
            return json_error("no such file", "not_found", 404)
        return web.Response(body=found[0], content_type=found[1])

    api = "/sandbox/api"
    return [
        web.get(f"{api}/state", _endpoint(state)),
        web.post(f"{api}/reset", _endpoint(reset)),
        web.post(f"{api}/bots", _endpoint(add_bot)),
        web.post(f"{api}/users", _endpoint(add_user)),
        web.post(f"{api}/groups", _endpoint(add_group)),
        web.post(f"{api}/groups/{{chat_id}}/members", _endpoint(set_member)),
        web.post(f"{api}/groups/{{chat_id}}/join", _endpoint(join)),
        web.post(f"{api}/groups/{{chat_id}}/bots", _endpoint(add_bot_to_group)),
        web.post(f"{api}/groups/{{chat_id}}/status", _endpoint(change_member)),
        web.post(f"{api}/users/{{user_id}}/block", _endpoint(block)),
        web.post(f"{api}/users/{{user_id}}/unblock", _endpoint(unblock)),
        web.post(f"{api}/messages", _endpoint(send_message)),
        web.post(f"{api}/buttons", _endpoint(press_button)),
        web.get(f"{api}/callbacks/{{query_id}}", _endpoint(callback_answer)),
        web.post(f"{api}/payments", _endpoint(pay_stars)),
        web.post(f"{api}/invoices/pay", _endpoint(pay_invoice)),
        web.post(f"{api}/bots/{{bot_id}}/refunds", _endpoint(refund)),
        web.get(f"{api}/bots/{{bot_id}}/stars", _endpoint(stars)),
        web.get(f"{api}/files/{{file_id}}", file),
        web.get(f"{api}/chats/{{chat_id}}/messages", _endpoint(chat_messages)),
        web.get(f"{api}/bots/{{bot_id}}/sent", _endpoint(sent)),
        web.get(f"{api}/bots/{{bot_id}}/calls", _endpoint(calls)),
        web.get(f"{api}/bots/{{bot_id}}/updates", _endpoint(pending_updates)),
        web.post(f"{api}/bots/{{bot_id}}/web-app", _endpoint(web_app_url)),
    ]
