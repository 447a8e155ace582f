"""DRF authentication: ``Authorization: tma <initData>`` from the Telegram Mini App.

The initData must be signed for a bot of the tenant that serves the request's host (the
platform bot on the public domain): HMAC with the bot's token when the platform holds it,
else Telegram's Ed25519 signature for the bot's id. A valid first request registers the
user; nothing is written for a refused one.
"""

from __future__ import annotations

import math
import time
from typing import Any

from django.conf import settings
from django.db import connection
from rest_framework import authentication, exceptions

from accounts import initdata
from accounts.services import user_authenticate
from config.cache import MISS, TTLCache
from tenancy.http import request_tenant
from tenancy.models import Tenant
from tenancy.selectors import tenant_bots


class InitDataFailed(exceptions.AuthenticationFailed):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(detail=message, code=code)


def _bots_for(tenant: Tenant | None) -> list[tuple[int, str]]:
    # Without the middleware (a view called directly), the connection's tenant.
    tenant = tenant or getattr(connection, "tenant", None)
    bots = list(tenant_bots(tenant=tenant)) if tenant is not None and tenant.pk else []
    if getattr(tenant, "schema_name", "public") == "public" and settings.PLATFORM_BOT_TOKEN:
        bot_id = int(settings.PLATFORM_BOT_TOKEN.split(":", 1)[0])
        bots.append((bot_id, settings.PLATFORM_BOT_TOKEN))
    return bots


_PER_BOT_ERRORS = frozenset({"bad_hash", "bad_signature", "missing_hash", "missing_signature"})


def validate_for_bots(raw: str, bots: list[tuple[int, str]], *, now: int) -> initdata.InitData:
    """Accept ``raw`` if it is signed for any of ``bots``; raise the most telling error."""
    return verify_for_bots(raw, bots, now=now)[0]


def verify_for_bots(
    raw: str, bots: list[tuple[int, str]], *, now: int
) -> tuple[initdata.InitData, int, bool]:
    """(the data, the bot it is signed for, whether Telegram's Ed25519 signature proved
    it rather than an HMAC with the bot's token)."""
    if not bots:
        raise InitDataFailed("no_bot", "this tenant has no bot to verify initData against")
    common: dict[str, Any] = {
        "now": now,
        "max_age": settings.INIT_DATA_MAX_AGE_SECONDS,
        "future_skew": settings.INIT_DATA_MAX_FUTURE_SKEW_SECONDS,
    }
    public_key = initdata.TELEGRAM_PUBLIC_KEYS[settings.TELEGRAM_ENVIRONMENT]
    errors: list[initdata.InitDataError] = []
    for bot_id, token in bots:
        try:
            if token:
                return initdata.validate_hmac(raw, bot_token=token, **common), bot_id, False
            data = initdata.validate_signature(
                raw, bot_id=bot_id, public_key_hex=public_key, **common
            )
            return data, bot_id, True
        except initdata.InitDataError as exc:
            # A structural problem is the same for every bot: stop at once. A missing or
            # wrong hash/signature only means "not this bot" when the tenant has several
            # (one checked by token, another only by Telegram's signature).
            if exc.code not in _PER_BOT_ERRORS:
                raise InitDataFailed(exc.code, exc.message) from exc
            errors.append(exc)
    # Prefer "signed, but not for this tenant" over "lacks the field another bot needs".
    error = next((e for e in errors if e.code in {"bad_hash", "bad_signature"}), errors[0])
    raise InitDataFailed(error.code, error.message)


# (initData, bot id) -> does Telegram's signature verify: a Mini App sends the same string
# with every request of a session, so it is checked once. A pure function of its key (no
# TTL); failures are kept too, as the answer never changes.
SIGNED_BY_TELEGRAM: TTLCache[tuple[str, int], bool] = TTLCache(
    "accounts.signed_by_telegram", ttl=math.inf, maxsize=initdata.VERIFIED_MAX
)


def signed_by_telegram(raw: str, data: initdata.InitData, bot_id: int) -> bool:
    """Whether HMAC-verified initData also carries Telegram's valid Ed25519 signature
    for ``bot_id`` (Telegram adds one to every initData it issues today)."""
    if not data.fields.get("signature"):
        return False
    key = (raw, bot_id)
    found = SIGNED_BY_TELEGRAM.get(key)
    if found is MISS:
        public_key = initdata.TELEGRAM_PUBLIC_KEYS[settings.TELEGRAM_ENVIRONMENT]
        try:
            initdata.check_signature(data, bot_id, public_key)
            found = True
        except initdata.InitDataError:
            found = False
        SIGNED_BY_TELEGRAM.set(key, found)
    return found


def telegram_confirmed(request: Any) -> bool:
    """Whether Telegram itself vouched for the request's user: initData of the platform
    bot, or with Telegram's Ed25519 signature; not initData a tenant's bot token signed
    alone (its owner can sign that for any user id)."""
    return bool(getattr(getattr(request, "_request", request), "telegram_confirmed", False))


class TelegramInitDataAuthentication(authentication.BaseAuthentication):
    keyword = "tma"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        if len(header) > settings.INIT_DATA_MAX_HEADER_BYTES:
            raise InitDataFailed("header_too_large", "Authorization header is too large")
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword:
            raise InitDataFailed("bad_scheme", "use Authorization: tma <initData>")
        raw = raw.strip()
        if not raw:
            raise InitDataFailed("missing_init_data", "Authorization: tma needs the initData")
        tenant = request_tenant(request)
        data, bot_id, by_telegram = verify_for_bots(raw, _bots_for(tenant), now=int(time.time()))
        try:
            profile = data.user()
        except initdata.InitDataError as exc:
            raise InitDataFailed(exc.code, exc.message) from exc
        # On the public domain every bot is the platform's own.
        trusted = (
            by_telegram
            or (tenant is not None and tenant.is_public)
            or signed_by_telegram(raw, data, bot_id)
        )
        # Views that change what the whole platform believes (an X account link) ask
        # whether Telegram vouched for this user (``telegram_confirmed``).
        request._request.telegram_confirmed = trusted
        return user_authenticate(profile=profile, tenant=tenant, trusted=trusted), data

    def authenticate_header(self, request) -> str:
        return 'tma realm="api"'
