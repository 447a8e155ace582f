"""The spam filter of live mentions: why a matching post is not relayed, or "" when it is.

- ``new_account``: the author's account was younger than ``XFEED_SPAM_MIN_ACCOUNT_DAYS``
  when it posted (bots are made in bulk and used at once);
- ``link_only``: nothing but links, @mentions, #hashtags and $cashtags (no words of its
  own: an advertisement or a phishing link);
- ``repeated_text``: the same text (normalized: case, links, @mentions and spacing
  ignored) reached this community from another author in the last hour (a copy-paste
  campaign). Only this one reads the database (``Post``).

A repost is judged by the author who reposted it, and its ``RT @author:`` prefix is not
part of its text.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from xfeed.conf import spam_min_account_days
from xfeed.models import Post
from xfeed.posts import XPost

REPEAT_WINDOW = timedelta(hours=1)
NEW_ACCOUNT = "new_account"
LINK_ONLY = "link_only"
REPEATED_TEXT = "repeated_text"

_REPOST_PREFIX = re.compile(r"^RT @\w+:\s*")
_LINK = re.compile(r"https?://\S+|\bwww\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")
_TAG = re.compile(r"(?<!\w)[#$][^\s#$@]+")
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def _body(text: str) -> str:
    return _REPOST_PREFIX.sub("", text, count=1)


def normalized_text(text: str) -> str:
    """What two copies of one message share: lower case, without links and @mentions
    (spammers vary them), punctuation and spacing folded to single spaces."""
    body = _MENTION.sub(" ", _LINK.sub(" ", _body(text)))
    return " ".join(_NOT_WORD.sub(" ", body.lower()).split())


def text_key(text: str) -> str:
    """The digest ``Post.text_key`` stores: equal for two copies of one message, "" for
    a text with no words of its own."""
    normalized = normalized_text(text)
    if not normalized:
        return ""
    return hashlib.blake2b(normalized.encode(), digest_size=16).hexdigest()


def is_new_account(post: XPost, *, min_days: int | None = None) -> bool:
    days = spam_min_account_days() if min_days is None else min_days
    if post.author_created_at is None:
        return False  # X did not say: not held against the author
    return post.created_at - post.author_created_at < timedelta(days=days)


def is_link_only(post: XPost) -> bool:
    """Links, @mentions, #hashtags or $cashtags and nothing else (at least one of them)."""
    body = _body(post.text)
    if not (_LINK.search(body) or _MENTION.search(body) or _TAG.search(body)):
        return False
    rest = _TAG.sub(" ", _MENTION.sub(" ", _LINK.sub(" ", body)))
    return not _NOT_WORD.sub("", rest)


def is_repeated_text(post: XPost) -> bool:
    """Another author's post with the same normalized text reached this community within
    the hour before ``post`` (the current schema's ``Post``, by ``text_key``)."""
    key = text_key(post.text)
    if not key:
        return False
    return (
        Post.objects.filter(
            text_key=key,
            created_at__gte=post.created_at - REPEAT_WINDOW,
            created_at__lte=post.created_at,
        )
        .exclude(author_id=post.author_id)
        .exists()
    )


def spam_reason(post: XPost) -> str:
    """The first reason ``post`` is spam (cheapest check first), or ""."""
    if is_new_account(post):
        return NEW_ACCOUNT
    if is_link_only(post):
        return LINK_ONLY
    if is_repeated_text(post):
        return REPEATED_TEXT
    return ""
