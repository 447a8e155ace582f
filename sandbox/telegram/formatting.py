"""``parse_mode``: turn HTML, MarkdownV2 or Markdown text into plain text + entities, as
Telegram does before it stores a message, and refuse malformed markup the way Telegram
does ("Bad Request: can't parse entities: ..."), so a bot that forgets to escape a user's
name fails here as it would in production."""

from __future__ import annotations

import html
import re
from typing import Any

from sandbox.telegram.errors import ApiError, bad_request
from sandbox.telegram.objects import utf16_len

JSONDict = dict[str, Any]

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",  # only with class="tg-spoiler"
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")


def _error(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


class _Builder:
    """Plain text and entities, with offsets in UTF-16 code units."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.entities: list[JSONDict] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length += utf16_len(text)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        if self.length > start:  # Telegram drops empty entities
            self.entities.append(
                {"type": kind, "offset": start, "length": self.length - start, **extra}
            )

    def result(self) -> tuple[str, list[JSONDict]]:
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


def parse(text: str, parse_mode: str | None) -> tuple[str, list[JSONDict]]:
    """(plain text, entities) for ``text`` sent with ``parse_mode``."""
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown(text, v2=True)
    if mode == "markdown":
        return _parse_markdown(text, v2=False)
    raise bad_request(f"unsupported parse_mode {parse_mode}")


_ATTRIBUTE = re.compile(r"""\s*([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")


def _parse_html(text: str) -> tuple[str, list[JSONDict]]:
    out = _Builder()
    stack: list[tuple[str, int, dict[str, str], int]] = []  # tag, start, attributes, index
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "&":
            end = text.find(";", i)
            entity = text[i : end + 1] if end != -1 and end - i <= 10 else ""
            decoded = html.unescape(entity) if entity else ""
            if entity and decoded != entity:
                out.add(decoded)
                i = end + 1
            else:
                out.add("&")
                i += 1
            continue
        if char != "<":
            out.add(char)
            i += 1
            continue
        end = text.find(">", i)
        if end == -1:
            raise _error(f"Can't find end of the tag at byte offset {_byte_offset(text, i)}")
        body = text[i + 1 : end]
        if body.startswith("/"):
            name = body[1:].strip().lower()
            if not stack or stack[-1][0] != name:
                raise _error(
                    f'Unmatched end tag at byte offset {_byte_offset(text, i)}, expected "</'
                    f'{stack[-1][0] if stack else ""}>", found "</{name}>"'
                )
            tag, start, attributes, _ = stack.pop()
            _close_html(out, tag, start, attributes, stack)
        else:
            match = re.match(r"[a-zA-Z-]+", body)
            name = match.group().lower() if match else ""
            if name not in _HTML_TAGS:
                raise _error(
                    f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}'
                )
            attributes = {
                m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "")
                for m in _ATTRIBUTE.finditer(body[len(name) :])
            }
            if name == "span" and attributes.get("class") != "tg-spoiler":
                raise _error(
                    f'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{_byte_offset(text, i)}"
                )
            stack.append((name, out.length, attributes, i))
        i = end + 1
    if stack:
        tag, _, _, index = stack[-1]
        raise _error(
            f'Can\'t find end tag corresponding to start tag "{tag}" at byte offset '
            f"{_byte_offset(text, index)}"
        )
    return out.result()


def _close_html(
    out: _Builder, tag: str, start: int, attributes: dict[str, str], stack: list
) -> None:
    kind = _HTML_TAGS[tag]
    if kind == "text_link":
        url = attributes.get("href", "")
        if not url:
            return
        out.entity("text_link", start, url=url)
    elif kind == "code":
        css_class = attributes.get("class", "")
        if stack and stack[-1][0] == "pre" and css_class.startswith("language-"):
            stack[-1][2]["language"] = css_class[len("language-") :]
            return  # <pre><code class="language-x"> is one pre entity with a language
        out.entity("code", start)
    elif kind == "pre":
        language = attributes.get("language")
        out.entity("pre", start, **({"language": language} if language else {}))
    elif kind == "blockquote":
        expandable = "expandable" in attributes or "expandable" in tag
        out.entity("expandable_blockquote" if expandable else "blockquote", start)
    elif kind == "custom_emoji":
        out.entity("custom_emoji", start, custom_emoji_id=attributes.get("emoji-id", ""))
    else:
        out.entity(kind, start)


_MD_MARKERS_V2 = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}
_MD_MARKERS_V1 = {"*": "bold", "_": "italic"}


def _parse_markdown(text: str, *, v2: bool) -> tuple[str, list[JSONDict]]:
    markers = _MD_MARKERS_V2 if v2 else _MD_MARKERS_V1
    out = _Builder()
    open_: dict[str, tuple[int, int]] = {}  # marker -> (entity start, text index)
    link: tuple[int, int] | None = None
    quote_start: int | None = None
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if v2 and char == ">" and (i == 0 or text[i - 1] == "\n"):
            if quote_start is None:
                quote_start = out.length
            i += 1
            continue
        if v2 and char == "\n" and quote_start is not None and not text.startswith("\n>", i):
            out.entity("blockquote", quote_start)
            quote_start = None
        if char == "\\" and i + 1 < n and (v2 or text[i + 1] in "_*`["):
            out.add(text[i + 1])
            i += 2
            continue
        if char == "`":
            i = _markdown_code(text, i, out, v2=v2)
            continue
        marker = text[i : i + 2] if text[i : i + 2] in markers else char
        if marker in markers:
            if marker in open_:
                start, _ = open_.pop(marker)
                out.entity(markers[marker], start)
            else:
                open_[marker] = (out.length, i)
            i += len(marker)
            continue
        if char == "[":
            if link is not None:
                raise _error(f"Can't find end of the link at byte offset {_byte_offset(text, i)}")
            link = (out.length, i)
            i += 1
            continue
        if char == "]" and link is not None:
            if not text.startswith("(", i + 1):
                raise _error(f"Can't find end of the link at byte offset {_byte_offset(text, i)}")
            close = i + 2
            url: list[str] = []
            while close < n and text[close] != ")":
                if v2 and text[close] == "\\" and close + 1 < n:
                    close += 1
                url.append(text[close])
                close += 1
            if close >= n:
                raise _error(f"Can't find end of a url at byte offset {_byte_offset(text, i)}")
            out.entity("text_link", link[0], url="".join(url))
            link = None
            i = close + 1
            continue
        if v2 and char in _MDV2_RESERVED:
            raise _error(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        out.add(char)
        i += 1
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    pending = [*open_.values(), *([link] if link else [])]
    if pending:
        index = min(index for _, index in pending)
        raise _error(
            f"Can't find end of the entity starting at byte offset {_byte_offset(text, index)}"
        )
    return out.result()


def _markdown_code(text: str, i: int, out: _Builder, *, v2: bool) -> int:
    """A `code` span or a ```pre``` block starting at ``i``; returns the index after it."""
    fence = "```" if text.startswith("```", i) else "`"
    start_index = i
    i += len(fence)
    language = ""
    if fence == "```":
        newline = text.find("\n", i)
        first_line = text[i:newline] if newline != -1 else ""
        if newline != -1 and re.fullmatch(r"[\w+#-]*", first_line):
            language, i = first_line, newline + 1
    start = out.length
    while i < len(text):
        if text.startswith(fence, i):
            kind_extra = {"language": language} if language else {}
            out.entity("pre" if fence == "```" else "code", start, **kind_extra)
            return i + len(fence)
        if v2 and text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "`\\":
            i += 1
        out.add(text[i])
        i += 1
    raise _error(
        f"Can't find end of the entity starting at byte offset {_byte_offset(text, start_index)}"
    )
