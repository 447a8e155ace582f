"""Posts reaching a community, whichever path brought them (the stream, polling, a
backfill): each is stored once, then forwarded to the groups following its author and
relayed to the groups whose mention rules it matches.

Once, and in one transaction per call:

- ``Post.post_id`` is unique: ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` tells the
  posts new to this community from those it already has (``duplicates``); only new
  posts go further. A post the stream and a search bring at the same time is inserted
  by one transaction; the other waits on the key and finds it taken.
- ``Forward`` (post, chat) and ``Mention`` (post, rule) are inserted the same way before
  their message is queued, in the same transaction as the message
  (``notifications.notify``, idempotency keys ``xfeed:fwd:<chat>:<post>`` and
  ``xfeed:men:<rule>:<post>``): a message exists exactly when its row does.

Forwarding: every active ``Forwarding`` of the post's author, originals always, reposts,
replies and quotes when the forwarding includes them, to bound groups whose
``tweet_forwarding`` feature is on. Mentions: every active ``MentionRule`` that
``queries.rule_matches`` the post, for bound groups whose ``mentions`` feature is on,
except a group the same post was just forwarded to (a project's own post is not also
its mention). Each match is stored with its spam reason (``spam.spam_reason``, "" for
none); only posts without one are relayed.

``forward_after``: posts created before it are stored (so they are never processed
again) but neither forwarded nor relayed: the first search of a new query returns
history the groups must not be flooded with.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django_tenants.utils import tenant_context

from community.selectors import community_check, group_list
from notifications.services import notify
from xfeed import texts
from xfeed.models import Forwarding, Mention, MentionRule, Post
from xfeed.notices import EVENT_MENTION, EVENT_POST
from xfeed.queries import rule_matches
from xfeed.signals import posts_received
from xfeed.spam import spam_reason, text_key

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tenancy.models import Tenant
    from xfeed.posts import XPost

logger = logging.getLogger(__name__)

_FLAG_OF_KIND = {
    Post.Kind.REPOST: "include_reposts",
    Post.Kind.REPLY: "include_replies",
    Post.Kind.QUOTE: "include_quotes",
}
_POST_COLUMNS = (
    "post_id",
    "author_id",
    "author_username",
    "author_followers",
    "author_created_at",
    "kind",
    "text",
    "lang",
    "media",
    "created_at",
    "received_at",
    "via",
    "text_key",
)
_INSERT_POSTS = """
INSERT INTO xfeed_post ({columns}) VALUES {rows}
ON CONFLICT (post_id) DO NOTHING
RETURNING id, post_id
"""
_INSERT_FORWARDS = """
INSERT INTO xfeed_forward (post_id, chat_id, created_at)
SELECT p, c, %s FROM unnest(%s::bigint[], %s::bigint[]) AS t(p, c)
ON CONFLICT (post_id, chat_id) DO NOTHING
RETURNING post_id, chat_id
"""
_INSERT_MENTIONS = """
INSERT INTO xfeed_mention (post_id, rule_id, spam_reason, relayed, created_at)
SELECT p, r, s, false, %s FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS t(p, r, s)
ON CONFLICT (post_id, rule_id) DO NOTHING
RETURNING id, post_id, rule_id, spam_reason
"""


@dataclass(frozen=True)
class Ingested:
    """What one call did: posts ``new`` to the community and ``duplicates`` it had;
    ``old``: new ones stored without forwarding (before ``forward_after``); messages
    queued: ``forwarded`` (post, group) and ``mentioned`` (post, rule); ``spam``:
    matches held back."""

    new: int = 0
    duplicates: int = 0
    old: int = 0
    forwarded: int = 0
    mentioned: int = 0
    spam: int = 0

    def __add__(self, other: Ingested) -> Ingested:
        return Ingested(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


@dataclass
class _Targets:
    """The community's configuration, read once per call."""

    forwardings: dict[int, list[Forwarding]]  # by the followed X user id
    rules: list[MentionRule]

    @classmethod
    def load(cls, tenant: Tenant) -> _Targets:
        features = {g.chat_id: g.effective_features for g in group_list(tenant=tenant)}
        forwardings: dict[int, list[Forwarding]] = defaultdict(list)
        for forwarding in Forwarding.objects.filter(is_active=True).select_related("account"):
            if features.get(forwarding.chat_id, {}).get("tweet_forwarding"):
                forwardings[forwarding.account.x_user_id].append(forwarding)
        rules = [
            rule
            for rule in MentionRule.objects.filter(is_active=True)
            if features.get(rule.chat_id, {}).get("mentions")
        ]
        return cls(forwardings, rules)

    def forward_chats(self, post: XPost) -> list[int]:
        flag = _FLAG_OF_KIND.get(Post.Kind(post.kind))
        return [
            f.chat_id
            for f in self.forwardings.get(post.author_id, [])
            if flag is None or getattr(f, flag)
        ]


def _insert_posts(posts: list[XPost], *, via: str, now: datetime) -> dict[int, int]:
    """Insert the posts this community does not have; {post_id: row id} of those."""
    row = "(" + ", ".join("%s::jsonb" if c == "media" else "%s" for c in _POST_COLUMNS) + ")"
    params: list[Any] = []
    for post in posts:
        params += [
            post.post_id,
            post.author_id,
            post.author_username[:15],
            post.author_followers,
            post.author_created_at,
            post.kind,
            post.text,
            post.lang[:8],
            json.dumps([dict(m) for m in post.media]),
            post.created_at,
            now,
            via,
            text_key(post.text),
        ]
    sql = _INSERT_POSTS.format(columns=", ".join(_POST_COLUMNS), rows=", ".join([row] * len(posts)))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {post_id: pk for pk, post_id in cursor.fetchall()}


def _insert_forwards(pairs: list[tuple[int, int]], now: datetime) -> set[tuple[int, int]]:
    """Insert (post row id, chat) pairs; the ones inserted now."""
    if not pairs:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_FORWARDS, [now, [p for p, _ in pairs], [c for _, c in pairs]])
        return {(p, c) for p, c in cursor.fetchall()}


def _insert_mentions(
    rows: list[tuple[int, int, str]], now: datetime
) -> list[tuple[int, int, int, str]]:
    """Insert (post row id, rule id, spam reason) rows; (id, post, rule, reason) of the
    ones inserted now."""
    if not rows:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_MENTIONS,
            [now, [p for p, _, _ in rows], [r for _, r, _ in rows], [s for _, _, s in rows]],
        )
        return [(i, p, r, s) for i, p, r, s in cursor.fetchall()]


def posts_ingest(
    *,
    tenant: Tenant,
    posts: Iterable[XPost],
    via: str,
    now: datetime | None = None,
    forward_after: datetime | None = None,
) -> Ingested:
    """Store ``posts`` (``via``: a ``Post.Via``) in ``tenant``'s schema, forward and relay
    the new ones; returns the counts."""
    community_check(tenant)
    via = Post.Via(via).value
    now = now or datetime.now(UTC)
    # In id order: two transactions inserting overlapping posts lock their keys in the
    # same order, so they wait for each other instead of deadlocking.
    unique = sorted({p.post_id: p for p in posts}.values(), key=lambda p: p.post_id)
    if not unique:
        return Ingested()
    with tenant_context(tenant), transaction.atomic():
        stored = _insert_posts(unique, via=via, now=now)
        fresh = [p for p in unique if p.post_id in stored]
        current = [p for p in fresh if forward_after is None or p.created_at >= forward_after]
        counts = Ingested(
            new=len(fresh), duplicates=len(unique) - len(fresh), old=len(fresh) - len(current)
        )
        if current:
            counts += _process(tenant, current, stored, now)
            posts_received.send(sender=posts_ingest, tenant=tenant, posts=current)
    if counts.new or counts.forwarded or counts.mentioned:
        logger.info(
            "xfeed.ingest",
            extra={"tenant": tenant.slug, "via": via, **asdict(counts)},
        )
    return counts


def _process(tenant: Tenant, posts: list[XPost], stored: dict[int, int], now: datetime) -> Ingested:
    """Forward and relay new ``posts`` (inside the caller's transaction and schema)."""
    targets = _Targets.load(tenant)
    by_row = {stored[p.post_id]: p for p in posts}
    wanted = [(stored[p.post_id], chat) for p in posts for chat in targets.forward_chats(p)]
    forwarded = 0
    for row, chat in sorted(_insert_forwards(wanted, now)):
        post = by_row[row]
        message = notify(
            tenant=tenant,
            event=EVENT_POST,
            text=texts.forward_text(post),
            chat_id=chat,
            options=dict(texts.OPTIONS),
            idempotency_key=f"xfeed:fwd:{chat}:{post.post_id}",
        )
        forwarded += message is not None
    forwarded_to = {(row, chat) for row, chat in wanted}
    matches: list[tuple[int, int, str]] = []
    reasons: dict[int, str] = {}
    for row, post in by_row.items():
        for rule in targets.rules:
            if (row, rule.chat_id) in forwarded_to or not rule_matches(rule, post):
                continue
            if row not in reasons:  # one check per post, whatever number of rules
                reasons[row] = spam_reason(post)
            matches.append((row, rule.pk, reasons[row]))
    rules = {rule.pk: rule for rule in targets.rules}
    mentioned, spam, relayed = 0, 0, []
    for mention_id, row, rule_id, reason in sorted(_insert_mentions(matches, now)):
        if reason:
            spam += 1
            continue
        post, rule = by_row[row], rules[rule_id]
        message = notify(
            tenant=tenant,
            event=EVENT_MENTION,
            text=texts.mention_text(post, rule_name=rule.name),
            chat_id=rule.chat_id,
            options=dict(texts.OPTIONS),
            idempotency_key=f"xfeed:men:{rule_id}:{post.post_id}",
        )
        if message is not None:
            mentioned += 1
            relayed.append(mention_id)
    if relayed:
        Mention.objects.filter(pk__in=relayed).update(relayed=True)
    return Ingested(forwarded=forwarded, mentioned=mentioned, spam=spam)
