"""The provider's API under ``/v1``, as an adapter calls it: bearer API key, payouts created
with an ``Idempotency-Key``, read back by id or by withdrawal. Errors answer
``{"error": {"type", "code", "message", ...}}`` with the HTTP status."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from aiohttp import web

from sandbox.provider.books import JSONDict
from sandbox.provider.errors import ApiError, invalid

if TYPE_CHECKING:
    from sandbox.provider.server import SandboxProvider


def _authenticate(request: web.Request, api_key: str) -> None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), api_key):
        raise ApiError(
            401, "authentication_error", "invalid_api_key", "send Authorization: Bearer <API key>"
        )


def _answer(body: JSONDict, status: int = 200, **headers: str) -> web.Response:
    return web.json_response(body, status=status, headers=headers or None)


def api_routes(provider: SandboxProvider) -> list[web.RouteDef]:
    books = provider.books

    async def create_payout(request: web.Request) -> web.Response:
        try:
            _authenticate(request, provider.api_key)
            try:
                body = await request.json()
            except ValueError:
                raise invalid("body", "the body is not JSON", "invalid_json") from None
            with books.lock:
                answer = books.payout_create(key=request.headers.get("Idempotency-Key"), body=body)
        except ApiError as exc:
            return _answer(exc.body(), exc.status)
        if answer.replayed:
            return _answer(answer.body, answer.status, **{"Idempotent-Replayed": "true"})
        return _answer(answer.body, answer.status)

    async def get_payout(request: web.Request) -> web.Response:
        try:
            _authenticate(request, provider.api_key)
            with books.lock:
                return _answer(books.payout(request.match_info["payout_id"]))
        except ApiError as exc:
            return _answer(exc.body(), exc.status)

    async def list_payouts(request: web.Request) -> web.Response:
        """Newest first; ``?withdrawal_id=`` finds the payout of one withdrawal."""
        try:
            _authenticate(request, provider.api_key)
        except ApiError as exc:
            return _answer(exc.body(), exc.status)
        wanted = request.query.get("withdrawal_id")
        with books.lock:
            found = [
                dict(p)
                for p in reversed(books.payouts.values())
                if wanted is None or p["withdrawal_id"] == wanted
            ]
        return _answer({"object": "list", "data": found})

    return [
        web.post("/v1/payouts", create_payout),
        web.get("/v1/payouts", list_payouts),
        web.get("/v1/payouts/{payout_id}", get_payout),
    ]
