"""X posts as the feed sees them: one flat, typed record per post, built from what X
returned (a search page, a timeline, a stream line) with its author and media joined in
from ``includes``. Every read of the feed asks X for the same fields (``READ_FIELDS``),
so a post looks the same whichever path brought it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import tweepy

POST_FIELDS = [
    "attachments",
    "author_id",
    "conversation_id",
    "created_at",
    "entities",
    "lang",
    "public_metrics",
    "referenced_tweets",
]
USER_FIELDS = ["created_at", "public_metrics", "username"]
MEDIA_FIELDS = ["preview_image_url", "type", "url"]
EXPANSIONS = ["author_id", "attachments.media_keys"]
# The keyword arguments of tweepy's Client and StreamingClient reads for these fields.
READ_FIELDS: dict[str, list[str]] = {
    "tweet_fields": POST_FIELDS,
    "user_fields": USER_FIELDS,
    "media_fields": MEDIA_FIELDS,
    "expansions": EXPANSIONS,
}

# X's reference types, most specific first: a reply that quotes is a reply.
_KINDS = (("retweeted", "repost"), ("replied_to", "reply"), ("quoted", "quote"))


@dataclass(frozen=True)
class XPost:
    post_id: int
    author_id: int
    author_username: str  # "" when X did not include the author
    author_followers: int | None
    author_created_at: datetime | None
    kind: str  # xfeed.models.Post.Kind: original, repost, reply, quote
    text: str
    lang: str
    hashtags: tuple[str, ...]  # lower-cased, without the sign
    cashtags: tuple[str, ...]
    mentions: tuple[str, ...]
    urls: tuple[str, ...]  # expanded where X expanded them
    media: tuple[dict[str, str], ...]  # {"type", "url"}: a photo's URL, a video's preview
    created_at: datetime
    referenced_id: int | None  # the post reposted, replied to or quoted
    conversation_id: int | None

    @property
    def link(self) -> str:
        author = self.author_username or "i"
        return f"https://x.com/{author}/status/{self.post_id}"


def _tags(entities: dict[str, Any], kind: str, key: str) -> tuple[str, ...]:
    return tuple(str(item.get(key, "")).lower() for item in entities.get(kind, []) or [])


def _media(post: tweepy.Tweet, media: dict[str, Any]) -> tuple[dict[str, str], ...]:
    keys = (post.attachments or {}).get("media_keys", []) or []
    found = []
    for key in keys:
        item = media.get(key)
        if item is None:
            continue
        url = getattr(item, "url", None) or getattr(item, "preview_image_url", None)
        if url:
            found.append({"type": str(item.type), "url": str(url)})
    return tuple(found)


def post_from_tweet(
    post: tweepy.Tweet, *, users: dict[int, tweepy.User], media: dict[str, Any]
) -> XPost:
    """One post, its author and media looked up in ``users`` (by id) and ``media`` (by
    media key), as ``includes`` of the same answer gave them."""
    entities: dict[str, Any] = post.entities or {}
    kind, referenced = "original", None
    references = {ref.type: int(ref.id) for ref in post.referenced_tweets or []}
    for x_type, name in _KINDS:
        if x_type in references:
            kind, referenced = name, references[x_type]
            break
    author = users.get(int(post.author_id)) if post.author_id is not None else None
    metrics = (author.public_metrics or {}) if author is not None else {}
    followers = metrics.get("followers_count")
    urls = tuple(
        str(u.get("expanded_url") or u.get("url", "")) for u in entities.get("urls", []) or []
    )
    return XPost(
        post_id=int(post.id),
        author_id=int(post.author_id) if post.author_id is not None else 0,
        author_username=author.username if author is not None else "",
        author_followers=int(followers) if followers is not None else None,
        author_created_at=author.created_at if author is not None else None,
        kind=kind,
        text=post.text,
        lang=post.lang or "",
        hashtags=_tags(entities, "hashtags", "tag"),
        cashtags=_tags(entities, "cashtags", "tag"),
        mentions=_tags(entities, "mentions", "username"),
        urls=urls,
        media=_media(post, media),
        created_at=post.created_at,
        referenced_id=referenced,
        conversation_id=int(post.conversation_id) if post.conversation_id else None,
    )


def posts_from_response(response: tweepy.Response | tweepy.StreamResponse) -> list[XPost]:
    """The posts of a search page, a timeline or a lookup (``data`` a list), or of one
    stream line (``data`` one post), oldest first (ascending id)."""
    data = response.data
    posts: list[tweepy.Tweet] = (
        [] if data is None else list(data) if isinstance(data, list) else [data]
    )
    includes = response.includes or {}
    users = {int(user.id): user for user in includes.get("users", [])}
    media = {item.media_key: item for item in includes.get("media", [])}
    found = [post_from_tweet(post, users=users, media=media) for post in posts]
    return sorted(found, key=lambda p: p.post_id)
