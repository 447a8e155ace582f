"""What a community asks X for, compiled into as few search queries (or filtered-stream
rules: the same language) as X's query length allows, and the local check that routes
each returned post back to the forwarding or the mention rule it is for.

Forwarding: the followed accounts, in the order they were added, packed into
``from:a OR from:b ...`` queries. Every kind of post is fetched; each group's choice of
reposts, replies and quotes is applied when the post is forwarded.

Mentions: each rule becomes one clause, ``(kw OR "a phrase" OR #tag OR $TAG OR @user)
-excluded``; clauses are packed as ``(clause) OR (clause) ...`` with ``-is:retweet`` once
(a repost repeats a post already matched). What X's query cannot say (a minimum of
followers, the language on every tier) is checked locally by ``rule_matches``, which
applies the whole rule to every post a packed query returns.

Packing keeps the order of rows, so adding an account or a rule changes only the last
query; ``Compiled.members`` names the rows (``acct:<x user id>``, ``rule:<id>``) so a
query that changed can be resumed from its members' positions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

from config.errors import ServiceError
from xfeed.models import Account, MentionRule

if TYPE_CHECKING:
    from xfeed.posts import XPost

FORWARD = "forward"
MENTION = "mention"
_NO_REPOSTS = " -is:retweet"
_TERM_FIELDS = ("keywords", "hashtags", "cashtags", "mentions")
_SIGNS = {"hashtags": "#", "cashtags": "$", "mentions": "@"}


class QueryTooLong(ServiceError):
    """A rule that does not fit in one X query; ``field`` is the one that takes most room."""

    def __init__(self, *, field: str, length: int, limit: int) -> None:
        super().__init__(
            f"{field}: the rule compiles to a query of {length} characters; X accepts "
            f"{limit} (remove some terms)",
            code="query_too_long",
        )
        self.field = field


@dataclass(frozen=True)
class Compiled:
    key: str  # "forward:<hash>" / "mention:<hash>": stable while the query is unchanged
    query: str
    purpose: str  # FORWARD or MENTION
    rule_ids: tuple[int, ...]  # the mention rules it serves
    account_ids: tuple[int, ...]  # the X user ids it follows

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(f"acct:{a}" for a in self.account_ids) + tuple(
            f"rule:{r}" for r in self.rule_ids
        )


def max_length() -> int:
    return int(settings.X_QUERY_MAX_LENGTH)


def _words(text: str) -> list[str]:
    # X tokenizes text and keywords into words the same way (the sandbox does too).
    return re.findall(r"\w+", text.lower())


def _term(value: str) -> str:
    return f'"{value}"' if len(_words(value)) > 1 or not re.fullmatch(r"\w+", value) else value


def _field_terms(rule: MentionRule, field: str) -> list[str]:
    values: list[str] = getattr(rule, field)
    sign = _SIGNS.get(field, "")
    return [f"{sign}{v}" if sign else _term(v) for v in values]


def rule_clause(rule: MentionRule) -> str:
    """The query text of one rule (without ``-is:retweet``); QueryTooLong when even the
    rule alone does not fit."""
    positive = [t for field in _TERM_FIELDS for t in _field_terms(rule, field)]
    if not positive:
        raise ServiceError("keywords: a rule needs at least one term to match", code="invalid")
    clause = positive[0] if len(positive) == 1 else "(" + " OR ".join(positive) + ")"
    for excluded in rule.exclusions:
        clause += f" -{_term(excluded)}"
    limit = max_length()
    length = len(clause) + len(_NO_REPOSTS)
    if length > limit:
        sizes = {f: len(" OR ".join(_field_terms(rule, f))) for f in _TERM_FIELDS}
        sizes["exclusions"] = sum(len(e) + 2 for e in rule.exclusions)
        raise QueryTooLong(field=max(sizes, key=lambda f: sizes[f]), length=length, limit=limit)
    return clause


def query_key(purpose: str, query: str) -> str:
    """``Compiled.key``: the same query text has the same key in every community (and in
    the shared poller), so a cursor carries over when a query moves between them."""
    return f"{purpose}:{hashlib.sha256(query.encode()).hexdigest()[:24]}"


def _pack(pieces: Sequence[str], render: Callable[[list[str]], str]) -> list[list[int]]:
    """Indexes of ``pieces`` grouped in order, each group as long as ``render`` of it fits."""
    limit = max_length()
    groups: list[list[int]] = []
    for i, piece in enumerate(pieces):
        if groups and len(render([*(pieces[j] for j in groups[-1]), piece])) <= limit:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _any_of(clauses: list[str]) -> str:
    # AND binds tighter than OR in X's queries: each clause (terms and exclusions) in
    # parentheses, and the whole before the shared -is:retweet.
    if len(clauses) == 1:
        return clauses[0] + _NO_REPOSTS
    return "(" + " OR ".join(f"({c})" for c in clauses) + ")" + _NO_REPOSTS


def pack_accounts(user_ids: Sequence[int]) -> list[tuple[str, tuple[int, ...]]]:
    """``from:`` queries for ``user_ids`` packed in their order: (query, the ids it holds)."""
    pieces = [f"from:{user_id}" for user_id in user_ids]
    return [
        (" OR ".join(pieces[i] for i in group), tuple(user_ids[i] for i in group))
        for group in _pack(pieces, " OR ".join)
    ]


def pack_clauses(clauses: Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
    """Rule clauses (``rule_clause``) packed in their order: (query, the clauses it holds)."""
    return [
        (_any_of([clauses[i] for i in group]), tuple(clauses[i] for i in group))
        for group in _pack(clauses, _any_of)
    ]


def compile_forwarding(accounts: Iterable[Account]) -> list[Compiled]:
    """``from:`` queries for ``accounts`` (by X user id: a handle can change)."""
    return [
        Compiled(query_key(FORWARD, query), query, FORWARD, (), ids)
        for query, ids in pack_accounts([a.x_user_id for a in accounts])
    ]


def compile_mentions(rules: Iterable[MentionRule]) -> list[Compiled]:
    """Packed queries for ``rules``; rules with the same clause (the same terms in two
    groups) share it."""
    by_clause: dict[str, list[int]] = {}
    for rule in rules:
        by_clause.setdefault(rule_clause(rule), []).append(rule.pk)
    return [
        Compiled(
            query_key(MENTION, query),
            query,
            MENTION,
            tuple(rule_id for clause in held for rule_id in by_clause[clause]),
            (),
        )
        for query, held in pack_clauses(list(by_clause))
    ]


def tenant_queries() -> list[Compiled]:
    """The current schema's queries: accounts with an active forwarding, active rules."""
    accounts = Account.objects.filter(forwardings__is_active=True).distinct().order_by("id")
    rules = MentionRule.objects.filter(is_active=True).order_by("id")
    return compile_forwarding(accounts) + compile_mentions(rules)


def _has_phrase(words: list[str], phrase: str) -> bool:
    wanted = _words(phrase)
    n = len(wanted)
    return n > 0 and any(words[i : i + n] == wanted for i in range(len(words) - n + 1))


def clause_matches(rule: MentionRule, post: XPost) -> bool:
    """Whether X's query would return ``post`` for ``rule``'s clause: its terms and
    exclusions as X applies them (reposts excluded), nothing checked only locally. A post
    a shared search returned for this clause was caused by the rule's community, whether
    or not ``rule_matches`` then takes it."""
    if post.kind == "repost":
        return False
    words = _words(post.text)
    hit = (
        any(_has_phrase(words, k) for k in rule.keywords)
        or any(t.lower() in post.hashtags for t in rule.hashtags)
        or any(t.lower() in post.cashtags for t in rule.cashtags)
        or any(m.lower() in post.mentions for m in rule.mentions)
    )
    return hit and not any(_has_phrase(words, e) for e in rule.exclusions)


def rule_matches(rule: MentionRule, post: XPost) -> bool:
    """Whether ``post`` is what ``rule`` asks for: the query's terms and exclusions as X
    applies them (``clause_matches``), plus the author's followers and the language,
    which X's query cannot check on every tier."""
    if not clause_matches(rule, post):
        return False
    if rule.min_followers and (post.author_followers or 0) < rule.min_followers:
        return False
    return not rule.languages or post.lang in rule.languages
