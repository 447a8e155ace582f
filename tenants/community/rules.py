"""A group's moderation rules: the document admins edit, its validation, and the
in-memory checks the message path runs against it. Pure code, no database.

The document (``GET/PUT /api/v1/groups/<chat_id>/moderation``)::

    {
      "enabled": false,                      # the group's "moderation" feature switch
      "flood": {"enabled": true, "messages": 8, "seconds": 10,
                "action": "mute", "mute_seconds": 600},
      "new_members": {"enabled": true, "hours": 24, "block_links": true,
                      "block_forwards": true, "action": "delete"},
      "blocklist": {"enabled": true, "words": ["scam*", "free money"],
                    "action": "escalate"},
      "escalation": {"ladder": [{"action": "warn"}, {"action": "warn"},
                                {"action": "mute", "mute_seconds": 3600},
                                {"action": "ban"}],
                     "window_hours": 24},
      "captcha": {"enabled": true, "timeout_seconds": 300}
    }

A rule's ``action`` is ``delete`` (the message only), ``mute`` (for ``mute_seconds``),
``ban``, or ``escalate`` (the next step of the escalation ladder: each escalated
violation is a strike; strikes older than ``window_hours`` expire). The offending
message is deleted whatever the action. PUT replaces the document: omitted sections and
fields take the defaults below.
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from config.errors import ServiceError

ACTIONS = ("delete", "mute", "ban", "escalate")
LADDER_ACTIONS = ("warn", "mute", "ban")

# Telegram treats a restriction shorter than 30 s or longer than 366 days as forever.
MUTE_MIN_SECONDS = 30
MUTE_MAX_SECONDS = 366 * 86400

BLOCKLIST_MAX_WORDS = 500
BLOCKLIST_WORD_MAX_LENGTH = 64
LADDER_MAX_STEPS = 10

DEFAULT_RULES: dict[str, Any] = {
    "enabled": False,
    "flood": {
        "enabled": True,
        "messages": 8,
        "seconds": 10,
        "action": "mute",
        "mute_seconds": 600,
    },
    "new_members": {
        "enabled": True,
        "hours": 24,
        "block_links": True,
        "block_forwards": True,
        "action": "delete",
        "mute_seconds": 600,
    },
    "blocklist": {"enabled": True, "words": [], "action": "escalate", "mute_seconds": 3600},
    "escalation": {
        "ladder": [
            {"action": "warn"},
            {"action": "warn"},
            {"action": "mute", "mute_seconds": 3600},
            {"action": "ban"},
        ],
        "window_hours": 24,
    },
    "captcha": {"enabled": True, "timeout_seconds": 300},
}

# (min, max) of every integer field, by section.
_RANGES: dict[str, dict[str, tuple[int, int]]] = {
    "flood": {"messages": (2, 100), "seconds": (1, 300)},
    "new_members": {"hours": (1, 720)},
    "escalation": {"window_hours": (1, 8760)},
    "captcha": {"timeout_seconds": (30, 86400)},
}


def _invalid(where: str, message: str) -> ServiceError:
    return ServiceError(f"{where}: {message}", code="invalid_rules")


def _check_keys(where: str, value: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(where, "must be an object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _invalid(where, f"unknown field {', '.join(unknown)}")
    return value


def _bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _invalid(where, "must be true or false")
    return value


def _int(where: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(where, "must be an integer")
    if not low <= value <= high:
        raise _invalid(where, f"must be between {low} and {high}")
    return value


def _mute_seconds(where: str, value: Any) -> int:
    return _int(where, value, MUTE_MIN_SECONDS, MUTE_MAX_SECONDS)


def _ladder_step(where: str, step: Any) -> dict[str, Any]:
    step = _check_keys(where, step, {"action", "mute_seconds"})
    action = step.get("action")
    if action not in LADDER_ACTIONS:
        raise _invalid(f"{where}.action", f"must be one of {', '.join(LADDER_ACTIONS)}")
    if action != "mute":
        if "mute_seconds" in step:
            raise _invalid(f"{where}.mute_seconds", "only a mute step has a duration")
        return {"action": action}
    return {
        "action": action,
        "mute_seconds": _mute_seconds(f"{where}.mute_seconds", step.get("mute_seconds")),
    }


# ---- blocklist patterns ----------------------------------------------------------------
# Characters people slip into words to dodge filters; removed before matching.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
_WORD_CHARS = re.compile(r"\w", re.UNICODE)


def blocklist_word_normalize(word: str) -> str:
    """Case-folded, spaces collapsed, runs of ``*`` merged."""
    word = re.sub(r"\s+", " ", word.strip()).casefold()
    return re.sub(r"\*+", "*", word)


def blocklist_word_check(where: str, word: Any) -> str:
    if not isinstance(word, str):
        raise _invalid(where, "must be a string")
    normalized = blocklist_word_normalize(word)
    if not normalized:
        raise _invalid(where, "must not be empty")
    if len(normalized) > BLOCKLIST_WORD_MAX_LENGTH:
        raise _invalid(where, f"at most {BLOCKLIST_WORD_MAX_LENGTH} characters")
    if not _WORD_CHARS.search(normalized.replace("*", "")):
        raise _invalid(where, "needs at least one letter or digit besides '*'")
    for part in normalized.split(" "):
        # Inner wildcards ("a*b*c") make backtracking regexes that a crafted message
        # could stall the message path with; at the edges they stay linear.
        if "*" in part.strip("*"):
            raise _invalid(where, "'*' may only start or end a word (e.g. 'scam*', '*coin')")
    return normalized


def blocklist_word_regex(word: str) -> str:
    """One normalized pattern as a regex source, matching whole words only. ``*`` at the
    start or end of a word stands for any letters or digits there (lazy at the start, so
    a long word is scanned once); a lone ``*`` for one whole word; a space for any
    whitespace."""
    parts = []
    for part in word.split(" "):
        core = part.strip("*")
        if not core:
            parts.append(r"\w+")
            continue
        prefix = r"\w*?" if part.startswith("*") else ""
        suffix = r"\w*" if part.endswith("*") else ""
        parts.append(prefix + re.escape(core) + suffix)
    return r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)"


@dataclass(frozen=True)
class Blocklist:
    """Patterns compiled once: one alternation finds whether anything matches; the
    per-pattern regexes name which one (only for messages that matched)."""

    words: tuple[str, ...] = ()
    combined: re.Pattern[str] | None = None
    each: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def compile(cls, words: list[str]) -> Blocklist:
        if not words:
            return cls()
        sources = [blocklist_word_regex(w) for w in words]
        return cls(
            words=tuple(words),
            combined=re.compile("|".join(f"(?:{s})" for s in sources), re.IGNORECASE),
            each=tuple(re.compile(s, re.IGNORECASE) for s in sources),
        )

    def find(self, text: str) -> tuple[str, str] | None:
        """(pattern, excerpt around the match) of the first pattern found, if any."""
        if self.combined is None or not text:
            return None
        text = text.translate(_INVISIBLE)
        found = self.combined.search(text)
        if found is None:
            return None
        excerpt = excerpt_around(text, found.start(), found.end())
        for word, regex in zip(self.words, self.each, strict=True):
            if regex.match(text, found.start()):
                return word, excerpt
        return self.words[0], excerpt  # not reached: one of the alternatives matched


# ---- validation --------------------------------------------------------------------------
def rules_validate(document: Any) -> dict[str, Any]:
    """The complete rules document from what an admin sent: unknown fields, wrong types,
    out-of-range numbers, bad patterns or ladders raise ServiceError(code=invalid_rules);
    omitted sections and fields take the defaults."""
    document = _check_keys("rules", document if document is not None else {}, set(DEFAULT_RULES))
    out: dict[str, Any] = {"enabled": _bool("enabled", document.get("enabled", False))}

    for name in ("flood", "new_members", "blocklist"):
        defaults = DEFAULT_RULES[name]
        given = _check_keys(name, document.get(name, {}), set(defaults))
        section = {**defaults, **given}
        values: dict[str, Any] = {"enabled": _bool(f"{name}.enabled", section["enabled"])}
        for key, (low, high) in _RANGES.get(name, {}).items():
            values[key] = _int(f"{name}.{key}", section[key], low, high)
        if name == "new_members":
            values["block_links"] = _bool("new_members.block_links", section["block_links"])
            values["block_forwards"] = _bool(
                "new_members.block_forwards", section["block_forwards"]
            )
        if name == "blocklist":
            words = section["words"]
            if not isinstance(words, list):
                raise _invalid("blocklist.words", "must be a list of strings")
            if len(words) > BLOCKLIST_MAX_WORDS:
                raise _invalid("blocklist.words", f"at most {BLOCKLIST_MAX_WORDS} entries")
            checked = [
                blocklist_word_check(f"blocklist.words[{i}]", w) for i, w in enumerate(words)
            ]
            values["words"] = list(dict.fromkeys(checked))  # duplicates dropped, order kept
        if section["action"] not in ACTIONS:
            raise _invalid(f"{name}.action", f"must be one of {', '.join(ACTIONS)}")
        values["action"] = section["action"]
        values["mute_seconds"] = _mute_seconds(f"{name}.mute_seconds", section["mute_seconds"])
        out[name] = values

    escalation = {
        **DEFAULT_RULES["escalation"],
        **_check_keys("escalation", document.get("escalation", {}), {"ladder", "window_hours"}),
    }
    ladder = escalation["ladder"]
    if not isinstance(ladder, list) or not 1 <= len(ladder) <= LADDER_MAX_STEPS:
        raise _invalid("escalation.ladder", f"must list 1 to {LADDER_MAX_STEPS} steps")
    steps = []
    for i, step in enumerate(ladder):
        where = f"escalation.ladder[{i}]"
        steps.append(_ladder_step(where, step))
        if steps[-1]["action"] == "ban" and i != len(ladder) - 1:
            raise _invalid(where, "ban must be the last step (nobody comes back for more)")
    out["escalation"] = {
        "ladder": steps,
        "window_hours": _int(
            "escalation.window_hours",
            escalation["window_hours"],
            *_RANGES["escalation"]["window_hours"],
        ),
    }

    captcha = {
        **DEFAULT_RULES["captcha"],
        **_check_keys("captcha", document.get("captcha", {}), set(DEFAULT_RULES["captcha"])),
    }
    out["captcha"] = {
        "enabled": _bool("captcha.enabled", captcha["enabled"]),
        "timeout_seconds": _int(
            "captcha.timeout_seconds",
            captcha["timeout_seconds"],
            *_RANGES["captcha"]["timeout_seconds"],
        ),
    }
    return out


def rules_effective(stored: dict[str, Any] | None, *, enabled: bool) -> dict[str, Any]:
    """A stored document (possibly from an older version of these rules) completed with
    today's defaults; ``enabled`` comes from the group's feature switch."""
    merged: dict[str, Any] = {}
    for key, default in DEFAULT_RULES.items():
        value = (stored or {}).get(key)
        merged[key] = {**default, **value} if isinstance(default, dict) and value else default
    merged["enabled"] = enabled
    return merged


# ---- checking a message ------------------------------------------------------------------
@dataclass(frozen=True)
class Violation:
    """What a message broke. ``needs_new_member`` marks the link/forward rule, which holds
    only if the sender joined less than ``hours`` ago (checked against the database by the
    service, so only such messages pay for a query)."""

    rule: str  # flood | link | forward | blocklist
    action: str  # delete | mute | ban | escalate
    mute_seconds: int | None = None
    excerpt: str = ""
    pattern: str = ""
    detail: str = ""
    needs_new_member: bool = False
    # A repeat inside a flood burst already acted on: delete only, no new strike.
    repeat: bool = False


@dataclass(frozen=True)
class MessageFacts:
    """What the checks need from a message, taken out of python-telegram-bot's object."""

    text: str = ""
    links: tuple[str, ...] = ()
    forwarded_from: str | None = None


EXCERPT_LENGTH = 120


def excerpt_around(text: str, start: int, end: int, width: int = EXCERPT_LENGTH) -> str:
    """The match with some context on both sides, at most ``width`` characters."""
    pad = max(0, (width - (end - start)) // 2)
    lo, hi = max(0, start - pad), min(len(text), end + pad)
    out = text[lo:hi]
    if lo > 0:
        out = "…" + out
    if hi < len(text):
        out += "…"
    return out[: width + 2]


@dataclass
class FloodTracker:
    """Recent message times per (schema, chat, user), in this process. A user who sends
    more than ``limit`` messages within ``window`` seconds floods; later messages of the
    same burst are flagged as repeats so one burst earns one strike, not one per message.
    Memory stays bounded: idle keys are swept every ``sweep_every`` calls."""

    sweep_every: int = 10_000
    _times: dict[tuple[str, int, int], deque[float]] = field(default_factory=dict)
    _flagged_until: dict[tuple[str, int, int], float] = field(default_factory=dict)
    _calls: int = 0
    _max_window: float = 0.0

    def hit(self, key: tuple[str, int, int], *, limit: int, window: float, now: float) -> str:
        """Record one message; "ok", "flood" (first excess of a burst) or "repeat"."""
        self._calls += 1
        self._max_window = max(self._max_window, window)
        if self._calls % self.sweep_every == 0:
            self._sweep(now)
        times = self._times.get(key)
        if times is None:
            times = self._times[key] = deque()
        times.append(now)
        while times and times[0] <= now - window:
            times.popleft()
        if len(times) <= limit:
            return "ok"
        if self._flagged_until.get(key, 0.0) > now:
            self._flagged_until[key] = now + window
            return "repeat"
        self._flagged_until[key] = now + window
        return "flood"

    def _sweep(self, now: float) -> None:
        horizon = now - self._max_window
        for key in [k for k, t in self._times.items() if not t or t[-1] <= horizon]:
            del self._times[key]
        for key in [k for k, until in self._flagged_until.items() if until <= now]:
            del self._flagged_until[key]

    def clear(self) -> None:
        self._times.clear()
        self._flagged_until.clear()


FLOOD = FloodTracker()


@dataclass(frozen=True)
class CompiledRules:
    """A group's effective rules, ready for the message path."""

    enabled: bool
    document: dict[str, Any]
    blocklist: Blocklist

    @classmethod
    def build(cls, document: dict[str, Any]) -> CompiledRules:
        return cls(
            enabled=bool(document["enabled"]),
            document=document,
            blocklist=Blocklist.compile(document["blocklist"]["words"]),
        )

    def check(
        self,
        facts: MessageFacts,
        *,
        flood_key: tuple[str, int, int],
        count_flood: bool = True,
        now: float | None = None,
        tracker: FloodTracker = FLOOD,
    ) -> Violation | None:
        """The first rule ``facts`` break, in order flood, blocklist, new-member links and
        forwards. In memory only."""
        if not self.enabled:
            return None
        doc = self.document
        flood = doc["flood"]
        if flood["enabled"] and count_flood:
            verdict = tracker.hit(
                flood_key,
                limit=flood["messages"],
                window=float(flood["seconds"]),
                now=time.monotonic() if now is None else now,
            )
            if verdict != "ok":
                return Violation(
                    rule="flood",
                    action="delete" if verdict == "repeat" else flood["action"],
                    mute_seconds=flood.get("mute_seconds"),
                    excerpt=facts.text[:EXCERPT_LENGTH],
                    detail=f"more than {flood['messages']} messages in {flood['seconds']} s",
                    repeat=verdict == "repeat",
                )
        blocklist = doc["blocklist"]
        if blocklist["enabled"]:
            found = self.blocklist.find(facts.text)
            if found is not None:
                pattern, excerpt = found
                return Violation(
                    rule="blocklist",
                    action=blocklist["action"],
                    mute_seconds=blocklist.get("mute_seconds"),
                    excerpt=excerpt,
                    pattern=pattern,
                    detail=f"blocked word {pattern!r}",
                )
        newcomers = doc["new_members"]
        if newcomers["enabled"]:
            hours = newcomers["hours"]
            if newcomers["block_links"] and facts.links:
                return Violation(
                    rule="link",
                    action=newcomers["action"],
                    mute_seconds=newcomers.get("mute_seconds"),
                    excerpt=facts.links[0][:EXCERPT_LENGTH],
                    detail=f"link from a member who joined less than {hours} h ago",
                    needs_new_member=True,
                )
            if newcomers["block_forwards"] and facts.forwarded_from is not None:
                return Violation(
                    rule="forward",
                    action=newcomers["action"],
                    mute_seconds=newcomers.get("mute_seconds"),
                    excerpt=facts.forwarded_from[:EXCERPT_LENGTH],
                    detail=f"forward from a member who joined less than {hours} h ago",
                    needs_new_member=True,
                )
        return None
