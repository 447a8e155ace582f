"""The ``WALLET_PROVIDERS`` setting: which payment providers the platform talks to.

JSON, provider name → its configuration::

    {"sandbox": {"adapter": "sandbox", "base_url": "http://127.0.0.1:8082",
                 "api_key": "...", "webhook_secret": "..."}}

``api_key`` and ``webhook_secret`` may be given encrypted (``"fernet:<token>"``, with
``FIELD_ENCRYPTION_KEY``, see ``manage.py encrypt`` or ``config.encryption.encrypt``) so the
environment need not hold them in clear. Unset: the sandbox provider on its default port
with its default keys, in development only. Pure parsing: settings import this module.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
SANDBOX_DEFAULTS = {
    "adapter": "sandbox",
    "base_url": "http://127.0.0.1:8082",
    "api_key": "sk_sandbox_provider",
    "webhook_secret": "whsec_sandbox_provider",
}
ENCRYPTED_PREFIX = "fernet:"


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    adapter: str
    base_url: str
    # Kept out of repr: settings are printed (the debug page, diffsettings) by name, and
    # WALLET_PROVIDERS is not a name Django's filter hides.
    api_key: str = field(repr=False)  # may be "fernet:..."; the registry decrypts it
    webhook_secret: str = field(repr=False)  # idem


def providers_parse(text: str, *, development: bool) -> dict[str, ProviderConfig]:
    """The configured providers; a malformed value stops the process at startup."""
    if not text.strip():
        if not development:
            return {}
        return {"sandbox": ProviderConfig(name="sandbox", **SANDBOX_DEFAULTS)}
    try:
        raw = json.loads(text)
    except ValueError:
        raise ValueError("WALLET_PROVIDERS is not JSON") from None
    if not isinstance(raw, dict) or not raw:
        raise ValueError("WALLET_PROVIDERS is a JSON object: name → configuration")
    found: dict[str, ProviderConfig] = {}
    for name, item in raw.items():
        if not NAME.match(name):
            raise ValueError(f"WALLET_PROVIDERS: {name!r} is not a provider name (a-z, 0-9, _)")
        if not isinstance(item, dict):
            raise ValueError(f"WALLET_PROVIDERS: {name} is not an object")
        fields = ("adapter", "base_url", "api_key", "webhook_secret")
        missing = [f for f in fields if not isinstance(item.get(f), str) or not item[f]]
        unknown = sorted(set(item) - set(fields))
        if missing or unknown:
            raise ValueError(f"WALLET_PROVIDERS: {name} lacks {missing} or has {unknown}")
        found[name] = ProviderConfig(name=name, **{f: item[f] for f in fields})
    return found
