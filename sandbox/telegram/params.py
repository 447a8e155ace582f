"""Bot API request parameters: query string, form-urlencoded, multipart (with uploaded
files) or a JSON body, all at once as Telegram accepts them, read with Telegram's typing:
in forms every value is a string, and objects and arrays are JSON-serialized."""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.telegram.errors import bad_request, required

# Parameters whose values are JSON-serialized objects or arrays in forms.
OBJECT_PARAMETERS = frozenset(
    {
        "allowed_updates",
        "commands",
        "entities",
        "caption_entities",
        "link_preview_options",
        "menu_button",
        "permissions",
        "prices",
        "reply_markup",
        "reply_parameters",
        "scope",
        "suggested_tip_amounts",
    }
)


@dataclass(frozen=True)
class Upload:
    """A file sent in a multipart request."""

    filename: str
    content_type: str
    data: bytes


class Params:
    """One request's parameters with typed accessors that fail like Telegram.

    The accessors are named after the types they read: below each one, this class's
    annotations spell that type ``builtins.str`` (``int``, ``bool``), not the method."""

    def __init__(self, values: dict[str, Any], files: dict[str, Upload] | None = None) -> None:
        self.values = values
        self.files = files or {}

    def __contains__(self, name: str) -> bool:
        return self.values.get(name) not in (None, "") or name in self.files

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def str(self, name: str, *, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else str(value)

    def require_str(self, name: builtins.str) -> builtins.str:
        value = self.str(name)
        if value is None or value == "":
            raise required(name)
        return value

    def int(self, name: builtins.str, *, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value in (None, ""):
            return default
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be of type Integer')
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be of type Integer') from None

    def require_int(self, name: builtins.str) -> builtins.int:
        value = self.int(name)
        if value is None:
            raise required(name)
        return value

    def bool(self, name: builtins.str, *, default: bool = False) -> bool:
        value = self.values.get(name)
        if value in (None, ""):
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return value != 0
        return str(value).strip().lower() in ("true", "1")

    def json(self, name: builtins.str) -> Any:
        """An object or array parameter, JSON-serialized in forms and query strings."""
        value = self.values.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value

    def user_id(self, name: builtins.str = "user_id") -> builtins.int:
        value = self.values.get(name)
        if value in (None, ""):
            raise bad_request("invalid user_id specified")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request("invalid user_id specified") from None

    def chat_id(self, name: builtins.str = "chat_id") -> builtins.int | builtins.str:
        """An integer id or an ``@username``."""
        value = self.values.get(name)
        if value in (None, ""):
            raise bad_request("chat_id is empty")
        if isinstance(value, str) and value.startswith("@"):
            return value
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None

    def loggable(self) -> dict[builtins.str, Any]:
        """The parameters for the call log: object parameters decoded, files as their
        names, everything else as it arrived (form values stay strings)."""
        logged: dict[str, Any] = {}
        for key, value in self.values.items():
            if isinstance(value, str) and key in OBJECT_PARAMETERS:
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            logged[key] = value
        for key, upload in self.files.items():
            logged[key] = {"filename": upload.filename, "size": len(upload.data)}
        return logged


async def read_params(request: web.Request) -> Params:
    values: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON object") from None
            if not isinstance(body, dict):
                raise bad_request("can't parse JSON object")
            values.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    values[key] = value
                elif isinstance(value, web.FileField):  # an uploaded file
                    files[key] = Upload(
                        filename=value.filename or key,
                        content_type=value.content_type or "application/octet-stream",
                        data=value.file.read(),
                    )
                else:  # a part with no file name and a binary type: aiohttp gives its bytes
                    files[key] = Upload(
                        filename=key, content_type="application/octet-stream", data=bytes(value)
                    )
    return Params(values, files)
