"""Entities X finds in a post's text: hashtags, cashtags, mentions and URLs, with
``start``/``end`` in code points (Python string indices), as the v2 API counts them."""

from __future__ import annotations

import re
from typing import Any

HASHTAG = re.compile(r"(?<![\w&#])#(\w*[^\W\d]\w*)")
CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:[._][A-Za-z]{1,2})?)(?![\w])")
MENTION = re.compile(r"(?<![\w@])@(\w{1,15})(?!\w)")
URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]]")


def parse(text: str) -> dict[str, list[dict[str, Any]]]:
    """Every entity kind found, keyed as in X's ``entities`` (empty kinds left out)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for kind, pattern in (("hashtags", HASHTAG), ("cashtags", CASHTAG)):
        tags = [
            {"start": m.start(), "end": m.end(), "tag": m.group(1)} for m in pattern.finditer(text)
        ]
        if tags:
            found[kind] = tags
    mentions = [
        {"start": m.start(), "end": m.end(), "username": m.group(1)} for m in MENTION.finditer(text)
    ]
    if mentions:
        found["mentions"] = mentions
    urls = [
        {
            "start": m.start(),
            "end": m.end(),
            "url": m.group(0),
            "expanded_url": m.group(0),
            "display_url": m.group(0).split("://", 1)[1][:26],
        }
        for m in URL.finditer(text)
    ]
    if urls:
        found["urls"] = urls
    return found
