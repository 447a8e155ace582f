"""The control API under ``/control/``: JSON over HTTP for tests in other processes, the
demo and people. Each route calls the SandboxProvider method of the same name; errors
answer ``{"detail": ..., "code": ...}``.

    GET    /control/state                       snapshot(): deposits, payouts, events, script
    POST   /control/reset                       reset()
    POST   /control/webhook                     configure_webhook(url, secret)
    POST   /control/deposits                    deposit(reference, currency, amount, event_id)
    GET    /control/events                      events(?type=)
    GET    /control/events/{event_id}           event()
    POST   /control/events/{event_id}/resend    resend(): a duplicate delivery
    POST   /control/events/{event_id}/forge     forge(fault): a broken delivery
    GET    /control/payouts/outcomes            the scripted outcomes still queued
    POST   /control/payouts/outcomes            script_payouts(*outcomes)
    DELETE /control/payouts/outcomes            clear_script()
    POST   /control/payouts/{payout_id}/settle  settle_payout(status, failure_code, ...)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox.provider.errors import ControlError
from sandbox.serving import Handler, json_endpoint

if TYPE_CHECKING:
    from sandbox.provider.server import SandboxProvider


def _endpoint(func: Callable[[web.Request, dict[str, Any]], Any], status: int = 200) -> Handler:
    return json_endpoint(func, errors=(ControlError,), status=status)


def control_routes(provider: SandboxProvider) -> list[web.RouteDef]:
    def state(request, body):
        return provider.snapshot()

    def reset(request, body):
        provider.reset()

    def webhook(request, body):
        url = body["url"]
        if url is not None and not (
            isinstance(url, str) and url.startswith(("http://", "https://"))
        ):
            raise ControlError("url is an http(s) URL or null", code="invalid")
        secret = body.get("secret")
        if secret is not None and not (isinstance(secret, str) and secret):
            raise ControlError("secret is a non-empty string", code="invalid")
        provider.configure_webhook(url, secret)

    def deposit(request, body):
        return provider.deposit(
            body["reference"], body["currency"], body["amount"], event_id=body.get("event_id")
        )

    def events(request, body):
        return provider.events(request.query.get("type"))

    def event(request, body):
        return provider.event(request.match_info["event_id"])

    def resend(request, body):
        return provider.resend_now(request.match_info["event_id"])

    def forge(request, body):
        return provider.forge_now(request.match_info["event_id"], str(body["fault"]))

    def outcomes(request, body):
        return provider.snapshot()["outcomes"]

    def script(request, body):
        scripted = body["outcomes"]
        if not isinstance(scripted, list):
            raise ControlError("outcomes is a list", code="invalid")
        return provider.script_payouts(*scripted)

    def clear_script(request, body):
        provider.clear_script()

    def settle(request, body):
        return provider.settle_payout(
            request.match_info["payout_id"],
            str(body["status"]),
            failure_code=body.get("failure_code"),
            failure_message=body.get("failure_message"),
        )

    return [
        web.get("/control/state", _endpoint(state)),
        web.post("/control/reset", _endpoint(reset)),
        web.post("/control/webhook", _endpoint(webhook)),
        web.post("/control/deposits", _endpoint(deposit, status=201)),
        web.get("/control/events", _endpoint(events)),
        web.get("/control/events/{event_id}", _endpoint(event)),
        web.post("/control/events/{event_id}/resend", _endpoint(resend)),
        web.post("/control/events/{event_id}/forge", _endpoint(forge)),
        web.get("/control/payouts/outcomes", _endpoint(outcomes)),
        web.post("/control/payouts/outcomes", _endpoint(script)),
        web.delete("/control/payouts/outcomes", _endpoint(clear_script)),
        web.post("/control/payouts/{payout_id}/settle", _endpoint(settle)),
    ]
