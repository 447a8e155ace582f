"""Deposit references: what a payer sends with the money so the webhook knows whose it is.

``bb1.<tenant id>.<chat id>.<mac>`` where the mac is HMAC-SHA256 (``WALLET_REFERENCE_KEY``,
else a key derived from ``SECRET_KEY``) of the tenant and chat, 128 bits in hex. Only the
platform can make one, so a payer (or anyone who forges a webhook body but not its
signature) cannot aim a deposit at a group the reference was not handed out for; and a
reference names its tenant, so one webhook URL serves every tenant.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from django.conf import settings

PREFIX = "bb1"
_FORM = re.compile(r"^bb1\.([1-9][0-9]{0,18})\.(-?[1-9][0-9]{0,18})\.([0-9a-f]{32})$")


@dataclass(frozen=True)
class Target:
    tenant_id: int
    chat_id: int


def _key() -> bytes:
    configured: str = settings.WALLET_REFERENCE_KEY
    if configured:
        return configured.encode()
    return hashlib.sha256(b"bragabot-deposit-reference:" + settings.SECRET_KEY.encode()).digest()


def _mac(tenant_id: int, chat_id: int) -> str:
    message = f"deposit:{tenant_id}:{chat_id}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()[:32]


def reference_for(*, tenant_id: int, chat_id: int) -> str:
    return f"{PREFIX}.{tenant_id}.{chat_id}.{_mac(tenant_id, chat_id)}"


def reference_parse(reference: str) -> Target | None:
    """The tenant and group a reference was made for; None for anything not made here."""
    match = _FORM.match(reference)
    if match is None:
        return None
    tenant_id, chat_id = int(match[1]), int(match[2])
    if not hmac.compare_digest(_mac(tenant_id, chat_id), match[3]):
        return None
    return Target(tenant_id=tenant_id, chat_id=chat_id)
