"""Helpers shared by the identity, RBAC and isolation tests (plain functions, no fixtures)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.initdata import _check_string

VECTORS_PATH = Path(__file__).resolve().parents[1] / "data" / "telegram_init_data_vectors.json"

# Public API documentation: reachable without a Telegram identity on purpose.
# The docs, and the payment providers' webhook: its credential is the provider's signature,
# not a Telegram user (tests/wallet/test_views_deposits.py covers it).
PUBLIC_API_PREFIXES = ("/api/schema", "/api/docs", "/api/v1/wallet/deposits/webhook/")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def load_vectors() -> list[dict[str, Any]]:
    return json.loads(VECTORS_PATH.read_text(encoding="utf-8"))


def sign_ed25519(fields: dict[str, str], *, bot_id: int, private_key: Ed25519PrivateKey) -> str:
    """initData signed the way Telegram signs for third parties: Ed25519 over
    ``"{bot_id}:WebAppData\\n"`` + the sorted ``key=value`` lines except hash and signature;
    the signature is unpadded base64url."""
    unsigned = {k: v for k, v in fields.items() if k not in {"hash", "signature"}}
    message = f"{bot_id}:WebAppData\n" + _check_string(unsigned, set())
    signature = base64.urlsafe_b64encode(private_key.sign(message.encode())).rstrip(b"=")
    return urlencode({**fields, "signature": signature.decode()})


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    route: str
    kwarg_names: tuple[str, ...]

    def url(self, kwargs: dict[str, Any]) -> str:
        return reverse(self.name, kwargs={k: kwargs[k] for k in self.kwarg_names})


def _pattern_kwargs(pattern: Any) -> list[str]:
    converters = getattr(pattern, "converters", None)
    if converters is not None:  # RoutePattern
        return list(converters)
    return list(pattern.regex.groupindex)  # RegexPattern


def _view_methods(callback: Any) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF ViewSet bound to {method: action}
        return [m.upper() for m in actions if m.upper() in HTTP_METHODS]
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is None:  # a plain function view: it may answer anything
        return list(HTTP_METHODS)
    return [m for m in HTTP_METHODS if hasattr(view_class, m.lower())]


def _walk(resolvers: list[Any], prefix: str, kwargs: list[str], namespace: str):
    for entry in resolvers:
        route = prefix + str(entry.pattern)
        names = kwargs + _pattern_kwargs(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}{entry.namespace}:"
            yield from _walk(entry.url_patterns, route, names, ns)
        elif isinstance(entry, URLPattern):
            yield entry, "/" + route.lstrip("^"), names, namespace


def api_operations() -> list[Operation]:
    """Every (URL name, method) the URLconf serves under /api/, except public docs.
    An unnamed pattern gets the name "" so a coverage check reports it."""
    operations = []
    for pattern, route, names, namespace in _walk(get_resolver().url_patterns, "", [], ""):
        if not route.startswith("/api/") or route.startswith(PUBLIC_API_PREFIXES):
            continue
        name = f"{namespace}{pattern.name}" if pattern.name else ""
        for method in _view_methods(pattern.callback):
            operations.append(Operation(name, method, route, tuple(dict.fromkeys(names))))
    return operations


def api_operation_index() -> dict[tuple[str, str], Operation]:
    return {(op.name, op.method): op for op in api_operations()}
