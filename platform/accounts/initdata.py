"""Telegram Mini App initData validation (https://core.telegram.org/bots/webapps).

Two checks, in the order Telegram's reference libraries apply them:
1. the required field is present (``hash`` for HMAC, ``signature`` for Ed25519);
2. ``auth_date`` is present and an integer, then not expired and not in the future;
3. the cryptographic check:
   - HMAC-SHA256 with ``secret = HMAC_SHA256(key="WebAppData", bot_token)`` over the
     sorted ``key=value`` lines of every field except ``hash`` (``signature`` included);
   - Ed25519 (third-party validation, no bot token needed): Telegram's public key over
     ``"{bot_id}:WebAppData\\n"`` + the sorted lines of every field except ``hash`` and
     ``signature``; the signature is unpadded base64url.
Pure functions (one memo of verified strings): no Django, no database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from config.cache import MISS, TTLCache

# Telegram's Ed25519 keys for third-party validation (core.telegram.org/bots/webapps).
TELEGRAM_PUBLIC_KEYS = {
    "production": "e7bf03a2fa4602af4580703d88dda5bb59f32ed8b02a56c187fe7d34caed242d",
    "test": "40055058a4ee38156a06562e52eece92a771bcd8346a8c4615cb7376eddf72ec",
}


# A "%" that does not start a two-digit hex escape: unquote would keep it literally.
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# user.id is stored in a signed 64-bit column; the strings in columns of these sizes
# (Telegram's own limits are lower; photo_url is cut to size instead: 0 = no limit).
MAX_USER_ID = 2**63 - 1
USER_STRING_LIMITS = {
    "first_name": 128,
    "last_name": 128,
    "username": 64,
    "language_code": 16,
    "photo_url": 0,
}


def _is_unix_time(raw: str) -> bool:
    """ASCII digits only ("²".isdigit() is true too), and a sane length for int()."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 15


class InitDataError(Exception):
    """Why initData was refused; ``code`` is stable and returned to API clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class InitData:
    fields: dict[str, str]

    @property
    def auth_date(self) -> int | None:
        raw = self.fields.get("auth_date")
        return int(raw) if raw is not None and _is_unix_time(raw) else None

    def user(self) -> dict[str, Any]:
        """The ``user`` object, checked for the fields the platform relies on."""
        raw = self.fields.get("user")
        if raw is None:
            raise InitDataError("missing_user", "initData has no user")
        try:
            user = json.loads(raw)
        except ValueError as exc:
            raise InitDataError("bad_user", "initData user is not valid JSON") from exc
        if not isinstance(user, dict):
            raise InitDataError("bad_user", "initData user must be a JSON object")
        user_id = user.get("id")
        if (
            isinstance(user_id, bool)
            or not isinstance(user_id, int)
            or not 0 < user_id <= MAX_USER_ID
        ):
            raise InitDataError("bad_user", "initData user.id must be a positive integer")
        for key, limit in USER_STRING_LIMITS.items():
            if key in user and not isinstance(user[key], str):
                raise InitDataError("bad_user", f"initData user.{key} must be a string")
            if limit and len(user.get(key) or "") > limit:
                raise InitDataError("bad_user", f"initData user.{key} is too long")
        return user


def parse(raw: str) -> InitData:
    """Split the query string into fields. Values are percent-decoded (``+`` is a space)
    and must be well-formed escapes of UTF-8; a key given twice is refused rather than
    guessed at."""
    fields: dict[str, str] = {}
    for part in raw.split("&") if raw else []:
        if not part:
            continue
        key, _, value = part.partition("=")
        if _BAD_ESCAPE.search(part):
            raise InitDataError("bad_encoding", "initData has a malformed percent-escape")
        try:
            key = unquote_plus(key, errors="strict")
            value = unquote_plus(value, errors="strict")
        except UnicodeDecodeError as exc:
            raise InitDataError("bad_encoding", "initData is not valid UTF-8") from exc
        if key in fields:
            raise InitDataError("duplicate_key", f"initData repeats the field {key!r}")
        fields[key] = value
    return InitData(fields)


def _check_string(fields: dict[str, str], exclude: set[str]) -> str:
    return "\n".join(f"{k}={v}" for k, v in sorted(fields.items()) if k not in exclude)


def check_auth_date(
    data: InitData, *, now: int, max_age: int, future_skew: int | None = 60, required: bool = True
) -> None:
    """``max_age`` 0 disables the expiry check. Expired only when auth_date + max_age < now."""
    raw = data.fields.get("auth_date")
    if raw is None:
        if required:
            raise InitDataError("missing_auth_date", "initData has no auth_date")
        return
    if not _is_unix_time(raw):
        raise InitDataError("invalid_auth_date", "initData auth_date is not a Unix time")
    auth_date = int(raw)
    if max_age and auth_date + max_age < now:
        raise InitDataError("expired", "initData is expired; reopen the Mini App")
    if future_skew is not None and auth_date > now + future_skew:
        raise InitDataError("invalid_auth_date", "initData auth_date is in the future")


def check_hmac(data: InitData, bot_token: str) -> None:
    received = data.fields.get("hash", "")
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    expected = hmac.new(
        secret, _check_string(data.fields, {"hash"}).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), received.encode("utf-8", "replace")):
        raise InitDataError("bad_hash", "initData hash does not match")


def check_signature(data: InitData, bot_id: int, public_key_hex: str) -> None:
    raw = data.fields.get("signature", "")
    try:
        signature = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InitDataError("bad_signature", "initData signature is not base64url") from exc
    # Only the canonical spelling: the decoder skips characters outside the alphabet and
    # ignores the last character's spare bits, so other strings decode to the same bytes.
    if base64.urlsafe_b64encode(signature).rstrip(b"=").decode() != raw:
        raise InitDataError("bad_signature", "initData signature is not canonical base64url")
    message = f"{bot_id}:WebAppData\n" + _check_string(data.fields, {"hash", "signature"})
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
    try:
        key.verify(signature, message.encode())
    except InvalidSignature as exc:
        raise InitDataError("bad_signature", "initData signature does not verify") from exc


# (initData, bot token) -> its parsed fields, once the HMAC matched: a Mini App sends the
# same initData with every request of a session, and the answer for a given string and
# token never changes (no TTL: its age is checked on every use). Only successes are kept.
VERIFIED_MAX = 10_000
VERIFIED: TTLCache[tuple[str, str], InitData] = TTLCache(
    "accounts.verified_init_data", ttl=math.inf, maxsize=VERIFIED_MAX
)


def validate_hmac(
    raw: str,
    *,
    bot_token: str,
    now: int,
    max_age: int,
    future_skew: int | None = 60,
    require_auth_date: bool = True,
) -> InitData:
    key = (raw, bot_token)
    data = VERIFIED.get(key)
    if data is not MISS:  # signed for this token: only its age can have changed
        check_auth_date(
            data, now=now, max_age=max_age, future_skew=future_skew, required=require_auth_date
        )
        return data
    data = parse(raw)
    if not data.fields.get("hash"):
        raise InitDataError("missing_hash", "initData has no hash")
    check_auth_date(
        data, now=now, max_age=max_age, future_skew=future_skew, required=require_auth_date
    )
    check_hmac(data, bot_token)
    VERIFIED.set(key, data)
    return data


def validate_signature(
    raw: str,
    *,
    bot_id: int,
    public_key_hex: str,
    now: int,
    max_age: int,
    future_skew: int | None = 60,
    require_auth_date: bool = True,
) -> InitData:
    data = parse(raw)
    if not data.fields.get("signature"):
        raise InitDataError("missing_signature", "initData has no signature")
    check_auth_date(
        data, now=now, max_age=max_age, future_skew=future_skew, required=require_auth_date
    )
    check_signature(data, bot_id, public_key_hex)
    return data


def sign_hmac(fields: dict[str, str], bot_token: str) -> str:
    """Build initData signed with ``bot_token``, as Telegram does when it opens a Mini App
    (used by the sandbox Telegram and by tests)."""
    from urllib.parse import urlencode

    unsigned = {k: v for k, v in fields.items() if k != "hash"}
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, _check_string(unsigned, set()).encode(), hashlib.sha256).hexdigest()
    return urlencode({**unsigned, "hash": digest})
