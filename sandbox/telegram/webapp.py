"""Mini App launch data: the signed ``initData`` Telegram's apps hand a Mini App, and the
URL fragment they open it with (``#tgWebAppData=...``, read by telegram-web-app.js), so a
Mini App opened from the sandbox's page authenticates like one opened in Telegram.

Only the HMAC signature (``hash``, keyed by the bot token) is made: the Ed25519
``signature`` needs Telegram's private key."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote, urlencode

# The Bot API version the sandbox tells Mini Apps it supports.
WEB_APP_VERSION = "9.0"
_USER_FIELDS = ("id", "first_name", "last_name", "username", "language_code", "is_premium")


def init_data(
    *, bot_token: str, user: dict[str, Any], auth_date: int, query_id: str, chat_type: str
) -> str:
    fields = {
        "auth_date": str(auth_date),
        "chat_type": chat_type,
        "query_id": query_id,
        "user": json.dumps(
            {**{k: user[k] for k in _USER_FIELDS if k in user}, "allows_write_to_pm": True},
            separators=(",", ":"),
            ensure_ascii=False,
        ),
    }
    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields, quote_via=quote)


def launch_url(url: str, data: str) -> str:
    """The Mini App URL with the fragment Telegram's apps add."""
    fragment = urlencode(
        {"tgWebAppData": data, "tgWebAppVersion": WEB_APP_VERSION, "tgWebAppPlatform": "web"},
        quote_via=quote,
    )
    return f"{url.split('#', 1)[0]}#{fragment}"
