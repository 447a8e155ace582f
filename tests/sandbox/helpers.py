"""Helpers for the sandbox Telegram's tests: the ids of the test world, Bot API calls raw
(httpx) or through python-telegram-bot, the published Bot API spec
(tests/data/telegram_bot_api.json), a checker that says why a JSON value is not a valid
object of a Bot API type, and a sandbox run as ``python -m`` (also the provider's)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import telegram

from sandbox.telegram import SandboxTelegram

TOKEN = "700999001:AAHsandboxtesttoken-for-bragabot-suite"
OTHER_TOKEN = "700999002:AAHsandboxothertoken-for-bragabot-suit"
BOT_ID, OTHER_BOT_ID = 700999001, 700999002
GROUP = -1001234500001
ALICE, BOB, CAROL = 11, 12, 13

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "tests" / "data" / "telegram_bot_api.json"


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


PRIMITIVES = {
    "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "String": lambda v: isinstance(v, str),
    "Boolean": lambda v: isinstance(v, bool),
    "True": lambda v: v is True,
}


def conformance_errors(value: Any, type_name: str, path: str = "result") -> list[str]:
    """Why ``value`` is not a valid ``type_name`` (a Bot API type expression such as
    "Message" or "Array of ChatMember"); [] when it is. Checks every field is documented
    for its type, required fields are present, values have their documented types, and
    documented constants ("always "administrator"") hold, recursively."""
    if type_name.startswith("Array of "):
        if not isinstance(value, list):
            return [f"{path}: expected an array"]
        inner = type_name[len("Array of ") :]
        return [
            e
            for i, item in enumerate(value)
            for e in conformance_errors(item, inner, f"{path}[{i}]")
        ]
    if type_name in PRIMITIVES:
        return [] if PRIMITIVES[type_name](value) else [f"{path}: expected {type_name}"]
    definition = spec()["types"][type_name]
    if definition.get("subtypes"):
        # An abstract type (ChatMember, MenuButton): the value must be one of its kinds.
        attempts = [conformance_errors(value, sub, path) for sub in definition["subtypes"]]
        if any(not attempt for attempt in attempts):
            return []
        return [f"{path}: matches no subtype of {type_name}: {min(attempts, key=len)}"]
    if not isinstance(value, dict):
        return [f"{path}: expected a {type_name} object"]
    fields = {f["name"]: f for f in definition.get("fields", [])}
    errors = [f"{path}.{key}: not a field of {type_name}" for key in value if key not in fields]
    errors += [
        f"{path}.{name}: required by {type_name} but missing"
        for name, f in fields.items()
        if f["required"] and name not in value
    ]
    for key, item in value.items():
        if key in fields:
            options = [conformance_errors(item, t, f"{path}.{key}") for t in fields[key]["types"]]
            if all(options):
                errors += options[0]
    for name, f in fields.items():
        description = f.get("description", "")
        if name in value and 'always "' in description:
            constant = description.split('always "', 1)[1].split('"', 1)[0]
            if value[name] != constant:
                errors.append(f"{path}.{name}: must always be {constant!r}")
    return errors


def result_errors(method: str, result: Any) -> list[str]:
    """Why ``result`` is not what the spec says ``method`` returns."""
    attempts = [conformance_errors(result, t) for t in spec()["methods"][method]["returns"]]
    return [] if any(not a for a in attempts) else min(attempts, key=len)


def unknown_to_ptb(obj: Any, path: str = "result") -> list[str]:
    """Fields python-telegram-bot did not recognise (its ``api_kwargs``), recursively."""
    if isinstance(obj, list | tuple):
        return [e for i, item in enumerate(obj) for e in unknown_to_ptb(item, f"{path}[{i}]")]
    if not isinstance(obj, telegram.TelegramObject):
        return []
    found = [f"{path}.{key}" for key in obj.api_kwargs]
    for name, value in obj._get_attrs(recursive=False).items():
        found += unknown_to_ptb(value, f"{path}.{name}")
    return found


@cache
def http() -> httpx.Client:
    """One client for the whole run: building one costs a CA bundle load (~0.1 s)."""
    return httpx.Client(timeout=30)


@cache
def offline_bot() -> telegram.Bot:
    """A Bot for ``de_json`` only (it never sends)."""
    return telegram.Bot(TOKEN)


def call(
    server: SandboxTelegram,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    how: str = "form",
    token: str = TOKEN,
    files: dict[str, Any] | None = None,
) -> httpx.Response:
    """A raw Bot API request: form-urlencoded (values JSON-encoded unless strings, as
    python-telegram-bot sends them), a JSON body, a query string, or multipart."""
    url = f"{server.base_url}/bot{token}/{method}"
    params = params or {}
    if how == "json":
        return http().post(url, json=params)
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    if how == "query":
        return http().get(url, params=data)
    return http().post(url, data=data, files=files)


def result(server: SandboxTelegram, method: str, params: dict[str, Any] | None = None, **kw):
    """The ``result`` of a call that must succeed."""
    response = call(server, method, params, **kw)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def error(server: SandboxTelegram, method: str, params: dict[str, Any] | None = None, **kw):
    """(status, description) of a call that must fail; checks the error envelope."""
    response = call(server, method, params, **kw)
    body = response.json()
    assert body["ok"] is False and body["error_code"] == response.status_code, body
    return response.status_code, body["description"]


def ptb(server: SandboxTelegram, token: str = TOKEN) -> telegram.Bot:
    return telegram.Bot(
        token, base_url=f"{server.base_url}/bot", base_file_url=f"{server.base_url}/file/bot"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def run_module(module: str, *args: str, ready: str) -> Iterator[str]:
    """``python -m <module> --port <a free port> <args>`` from the project's root, for the
    block: its base URL, once a GET of the path ``ready`` answers (within 15 s); a process
    that exits before says what it wrote to stderr. Terminated when the block ends."""
    port = _free_port()
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", module, "--port", str(port), *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 15
            while True:
                try:
                    http().get(f"{base}{ready}")
                    break
                except Exception:
                    if process.poll() is not None:
                        stderr.seek(0)
                        raise AssertionError(stderr.read().decode()) from None
                    assert time.monotonic() < deadline, f"{module} did not start"
                    time.sleep(0.05)
            yield base
        finally:
            process.terminate()
            process.wait(10)
