"""A bot's messages, rendered exactly as the bot sends them (Telegram's HTML parse mode).

The templates are the repository's (``bot_templates/<kind>/messages/``), compiled in
Jinja's ``SandboxedEnvironment`` with ``StrictUndefined``: a missing variable is an
error, not an empty string. Everything a tenant supplies (parameters, names, a brand's
own text) is data: values are HTML-escaped by autoescaping, and a brand's override is
plain text whose ``{variable}`` placeholders are filled with escaped values. Neither is
ever compiled as a template."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape

from provisioner.kinds import Kind

# Telegram refuses longer messages (after entities are parsed; the escaped length bounds it).
MAX_MESSAGE_LENGTH = 4096
MAX_OVERRIDE_LENGTH = 2000
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

_env = SandboxedEnvironment(
    autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
)


class MessageError(ValueError):
    """A message that cannot be rendered or an override that cannot be used."""


@functools.cache
def _compiled(kind_name: str, key: str, language: str, source: str) -> Template:
    return _env.from_string(source)


def override_check(*, kind: Kind, key: str, text: str) -> str:
    """A brand's own ``text`` for message ``key``, if usable: known key, only the
    message's variables as placeholders, not too long. Returns it stripped."""
    if key not in kind.variables:
        raise MessageError(
            f"{kind.name} has no message {key!r}; messages: {sorted(kind.variables)}"
        )
    text = text.strip()
    if not text:
        raise MessageError("the text is empty")
    if len(text) > MAX_OVERRIDE_LENGTH:
        raise MessageError(f"the text is longer than {MAX_OVERRIDE_LENGTH} characters")
    unknown = sorted(set(PLACEHOLDER.findall(text)) - set(kind.variables[key]))
    if unknown:
        allowed = ", ".join(f"{{{v}}}" for v in kind.variables[key]) or "none"
        raise MessageError(f"unknown placeholder {{{unknown[0]}}}; this message has: {allowed}")
    return text


def _fill(text: str, values: Mapping[str, object]) -> str:
    """Escape the override's text and put each placeholder's escaped value in."""
    out, last = [], 0
    for match in PLACEHOLDER.finditer(text):
        out.append(str(escape(text[last : match.start()])))
        out.append(str(escape(values.get(match.group(1), ""))))
        last = match.end()
    out.append(str(escape(text[last:])))
    return "".join(out)


def message_render(
    *,
    kind: Kind,
    key: str,
    language: str,
    values: Mapping[str, object],
    override: str | None = None,
) -> str:
    """Message ``key`` of ``kind`` in ``language`` (English where it has no text), with
    ``values`` for its variables; ``override`` (a brand's own text) replaces the template."""
    if override:
        rendered = _fill(override_check(kind=kind, key=key, text=override), values)
    else:
        source = kind.message_source(key, language)
        try:
            rendered = _compiled(kind.name, key, language, source).render(**values)
        except TemplateError as exc:  # a variable the caller did not give
            raise MessageError(f"{kind.name}.{key}: {exc.message}") from exc
        rendered = rendered.strip()
    if len(rendered) > MAX_MESSAGE_LENGTH:
        raise MessageError(
            f"{kind.name}.{key} is {len(rendered)} characters once rendered;"
            f" Telegram takes at most {MAX_MESSAGE_LENGTH}"
        )
    return rendered
