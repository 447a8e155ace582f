"""What X and Telegram say about a raid's tasks, read with as few calls as possible: each
task kind reads one listing (the post's reposters, its quotes, the replies in its
conversation, its likers, the target's followers) a full page at a time, and stops as soon
as every participant still pending is found, or (``since``, during the raid) at what an
earlier pass already read. Each fetcher returns a ``Found``: the evidence per account,
whether the whole listing was read, and the refusal that cut it short (ReadRefused or a
tweepy error: what was read before it still counts; the rest stays pending)."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import tweepy

from community.botapi import IN_CHAT, chat_member_statuses
from config.errors import ServiceError
from xclient.models import XLink
from xclient.reader import LinkReader, XReader

logger = logging.getLogger(__name__)

PAGE = 100  # retweeted_by, liking_users, quote_tweets and recent search: X's largest page
FOLLOWERS_PAGE = 1000  # followers / following: X's largest page
LIKERS_CAP = 100  # liking_users lists only the 100 most recent likers of a post
OWNED_PAGES = 3  # a participant's own likes read past the cap: their latest 300 at most
POST_FIELDS = ["author_id", "created_at", "conversation_id", "referenced_tweets"]
# Telegram refusals that mean the bot cannot see the chat: X-like "cannot say".
BOT_BLIND = frozenset({"bot_not_in_chat", "telegram_chat_not_found"})

REPOSTS = "GET /2/tweets/:id/retweeted_by"
QUOTES = "GET /2/tweets/:id/quote_tweets"
SEARCH = "GET /2/tweets/search/recent"
LIKERS = "GET /2/tweets/:id/liking_users"
LIKED = "GET /2/users/:id/liked_tweets"
FOLLOWERS = "GET /2/users/:id/followers"
FOLLOWING = "GET /2/users/:id/following"
USERS = "GET /2/users"
GET_CHAT_MEMBER = "getChatMember"


@dataclass
class Found:
    """One task's evidence. ``verified``: key (X id; Telegram id for joins) -> evidence;
    ``rejected``: key -> why what they posted does not count (a reply without the
    required words); ``unverifiable``: keys the source cannot decide; ``complete``: the
    whole listing was read, so an account not in it did not do the task."""

    verified: dict[int, dict[str, Any]] = field(default_factory=dict)
    rejected: dict[int, dict[str, Any]] = field(default_factory=dict)
    unverifiable: dict[int, dict[str, Any]] = field(default_factory=dict)
    complete: bool = False
    calls: Counter[str] = field(default_factory=Counter)
    refused: str = ""  # the refusal's code: the listing was cut short
    # key -> refusal code of a read of that account alone (its own likes): stays pending
    undecided: dict[int, str] = field(default_factory=dict)


def _pages(
    found: Found, endpoint: str, fetch: Callable[[str | None], tweepy.Response]
) -> Iterator[tweepy.Response]:
    """Each page of a listing in turn; sets ``complete`` after the last one. A refusal
    ends the listing with ``refused`` set (the caller keeps what came before)."""
    token: str | None = None
    while True:
        try:
            page = fetch(token)
        except ServiceError as exc:  # ReadRefused: the budget or the cap said not now
            found.refused = exc.code
            return
        except tweepy.TweepyException as exc:
            found.refused = f"x_error_{getattr(getattr(exc, 'response', None), 'status_code', '')}"
            logger.warning(
                "raids.validation.x_failed", extra={"endpoint": endpoint, "error": str(exc)}
            )
            return
        found.calls[endpoint] += 1
        yield page
        token = (page.meta or {}).get("next_token")
        if not token:
            found.complete = True
            return


# ---- text rules (replies and quotes) ------------------------------------------------------
_LEADING_MENTIONS = re.compile(r"^(?:@\w+\s+)+")
_URL = re.compile(r"https?://\S+")


def text_problem(text: str, params: dict[str, Any]) -> str:
    """Why ``text`` does not meet the task's rules ("" when it does): every required word
    present (case-insensitive, as a whole word), and at least ``min_length`` characters
    once the leading @mentions X puts on replies and any links are taken out."""
    body = _URL.sub("", _LEADING_MENTIONS.sub("", text)).strip()
    lowered = body.lower()
    for word in params.get("required_words") or []:
        if not re.search(rf"(?<!\w){re.escape(str(word).lower())}(?!\w)", lowered):
            return f"missing required word: {word}"
    if len(body) < int(params.get("min_length") or 0):
        return f"shorter than {params['min_length']} characters"
    return ""


def _in_time(post: tweepy.Tweet, until: datetime) -> bool:
    return post.created_at is None or post.created_at <= until


def _posts(
    found: Found,
    pages: Iterator[tweepy.Response],
    *,
    wanted: set[int],
    params: dict[str, Any],
    until: datetime,
    via: str,
    accept: Callable[[tweepy.Tweet], bool],
    stop_below: int = 0,
) -> None:
    """Match posts to the accounts in ``wanted`` by author; a post that fails the text
    rules is kept as ``rejected`` evidence unless a later one passes."""
    left = set(wanted)
    for number, page in enumerate(pages, start=1):
        for post in page.data or []:
            if int(post.id) <= stop_below:  # an earlier pass read from here on
                found.complete = True
                return
            author = int(post.author_id)
            if author not in left or not accept(post) or not _in_time(post, until):
                continue
            problem = text_problem(post.text, params)
            evidence = {"via": via, "page": number, "post_id": str(post.id), "text": post.text}
            if problem:
                found.rejected.setdefault(author, {**evidence, "problem": problem})
                continue
            found.verified[author] = evidence
            found.rejected.pop(author, None)
            left.discard(author)
        if not left:
            return


def _users(
    found: Found,
    pages: Iterator[tweepy.Response],
    *,
    wanted: set[int],
    via: str,
    stop_at: frozenset[int] = frozenset(),
) -> None:
    left = set(wanted)
    for number, page in enumerate(pages, start=1):
        for user in page.data or []:
            account = int(user.id)
            if account in stop_at:  # verified by an earlier pass: older entries were read
                found.complete = True
                return
            if account in left:
                found.verified[account] = {"via": via, "page": number}
                left.discard(account)
        if not left:
            return


# ---- the fetchers --------------------------------------------------------------------------
def reposts(
    reader: XReader, *, post_id: int, wanted: set[int], stop_at: frozenset[int] = frozenset()
) -> Found:
    found = Found()
    pages = _pages(
        found,
        REPOSTS,
        lambda token: reader.retweeted_by(post_id, max_results=PAGE, pagination_token=token),
    )
    _users(found, pages, wanted=wanted, via="retweeted_by", stop_at=stop_at)
    return found


def quotes(
    reader: XReader,
    *,
    post_id: int,
    wanted: set[int],
    params: dict[str, Any],
    until: datetime,
    stop_below: int = 0,
) -> Found:
    found = Found()
    pages = _pages(
        found,
        QUOTES,
        lambda token: reader.quote_tweets(
            post_id, max_results=PAGE, pagination_token=token, tweet_fields=POST_FIELDS
        ),
    )
    _posts(
        found,
        pages,
        wanted=wanted,
        params=params,
        until=until,
        via="quote_tweets",
        accept=lambda post: True,
        stop_below=stop_below,
    )
    return found


def replies(
    reader: XReader,
    *,
    post_id: int,
    wanted: set[int],
    params: dict[str, Any],
    until: datetime,
    since_id: int = 0,
) -> Found:
    """Replies in the post's conversation (recent search: the last 7 days only); any
    reply in the thread counts, to the post or to another reply under it."""
    found = Found()
    extra: dict[str, Any] = {"since_id": since_id} if since_id else {}

    def fetch(token: str | None) -> tweepy.Response:
        return reader.search_recent(
            f"conversation_id:{post_id}",
            max_results=PAGE,
            next_token=token,
            tweet_fields=POST_FIELDS,
            **extra,
        )

    _posts(
        found,
        _pages(found, SEARCH, fetch),
        wanted=wanted,
        params=params,
        until=until,
        via="search_recent",
        accept=lambda post: (
            int(post.id) != post_id
            and any(ref.type == "replied_to" for ref in post.referenced_tweets or [])
        ),
    )
    return found


def likes(
    reader: XReader,
    *,
    post_id: int,
    wanted: set[int],
    owned: Callable[[set[int]], Mapping[int, LinkReader]] | None = None,
) -> Found:
    """One call: the 100 most recent likers. Someone not among them liked before those
    100, or not at all; X cannot say which once the list is full. For those, ``owned``
    gives the readers of the ones whose X link holds a ``like.read`` token: their own
    likes are read (``liked_tweets``, at most ``OWNED_PAGES`` pages, latest like first).
    Without such a token the result is ``unverifiable``."""
    found = Found()
    likers: set[int] | None = None
    pages = _pages(found, LIKERS, lambda token: reader.liking_users(post_id, max_results=PAGE))
    for page in pages:
        likers = {int(user.id) for user in page.data or []}
        break  # never a second page: X serves none past the cap
    if likers is None:  # refused: nothing is known
        return found
    found.complete = True
    for account in wanted & likers:
        found.verified[account] = {"via": "liking_users", "page": 1}
    beyond = wanted - likers if len(likers) >= LIKERS_CAP else set()
    readers = owned(beyond) if owned is not None and beyond else {}
    for account in sorted(beyond):
        if account in readers:
            _owned_like(found, readers[account], account=account, post_id=post_id)
        else:
            found.unverifiable[account] = {"via": "liking_users", "reason": "past_100_cap"}
    return found


def _owned_like(found: Found, reader: LinkReader, *, account: int, post_id: int) -> None:
    """The account's own likes, latest first, until the post is among them: verified;
    every like read without it: ``rejected`` (failed at the final pass); more likes than
    ``OWNED_PAGES`` pages hold: ``unverifiable`` (likes carry no time, so an older like may
    still be of this raid's post); X or the budget refusing: ``undecided`` (pending)."""
    each = Found()
    pages = _pages(
        each,
        LIKED,
        lambda token: reader.liked_tweets(account, max_results=PAGE, pagination_token=token),
    )
    more, read = False, 0
    for number, page in enumerate(pages, start=1):
        read = number
        if any(int(post.id) == post_id for post in page.data or []):
            found.verified[account] = {"via": "liked_tweets", "page": number}
            break
        more = bool((page.meta or {}).get("next_token"))
        if number >= OWNED_PAGES:
            break
    found.calls.update(each.calls)
    if account in found.verified:
        return
    if each.refused:
        found.undecided[account] = each.refused
    elif more:
        found.unverifiable[account] = {"via": "liked_tweets", "reason": "past_owned_pages"}
    else:
        found.rejected[account] = {"via": "liked_tweets", "reason": "not_found", "pages": read}


def link_reads_likes(link: XLink) -> bool:
    """The link can read its own likes: made through X's consent with ``like.read``."""
    return (
        link.via == XLink.Via.OAUTH
        and "like.read" in link.scopes.split()
        and bool(link.access_token)
        and link.unlinked_at is None
    )


def follow_batched(followers: int, pending: int) -> bool:
    """Page the target's followers (ceil(followers / 1000) calls at most) when that is no
    more than one ``following`` call per pending participant (each costs at least one)."""
    return math.ceil(followers / FOLLOWERS_PAGE) <= pending


def follows(
    reader: XReader,
    *,
    target_id: int,
    wanted: set[int],
    stop_at: frozenset[int] = frozenset(),
) -> Found:
    found = Found()
    try:
        answer = reader.users([target_id], user_fields=["public_metrics"])
    except ServiceError as exc:
        found.refused = exc.code
        return found
    except tweepy.TweepyException:
        found.refused = "x_error"
        return found
    found.calls[USERS] += 1
    target = (answer.data or [None])[0]
    if target is None:  # the account is gone: nobody can follow it now
        found.complete = True
        return found
    count = int((target.public_metrics or {}).get("followers_count", 0))
    if follow_batched(count, len(wanted)):
        pages = _pages(
            found,
            FOLLOWERS,
            lambda token: reader.followers(
                target_id, max_results=FOLLOWERS_PAGE, pagination_token=token
            ),
        )
        _users(found, pages, wanted=wanted, via="followers", stop_at=stop_at)
        return found
    for account in sorted(wanted):
        each = Found()
        pages = _pages(each, FOLLOWING, _following_of(reader, account))
        for number, page in enumerate(pages, start=1):
            if any(int(user.id) == target_id for user in page.data or []):
                found.verified[account] = {"via": "following", "page": number}
                break
        found.calls.update(each.calls)
        if each.refused:
            found.refused = each.refused
            return found
    found.complete = True
    return found


def _following_of(reader: XReader, account: int) -> Callable[[str | None], tweepy.Response]:
    def fetch(token: str | None) -> tweepy.Response:
        return reader.following(account, max_results=FOLLOWERS_PAGE, pagination_token=token)

    return fetch


def joins(*, token: str, chat_id: int, wanted: set[int]) -> Found:
    """Telegram membership of each pending participant (getChatMember, a few at once)."""
    found = Found()
    if not token:
        found.refused = "bot_token_missing"
        return found
    try:
        statuses = chat_member_statuses(token=token, chat_id=chat_id, user_ids=sorted(wanted))
    except ServiceError as exc:
        if exc.code in BOT_BLIND:
            found.unverifiable = {u: {"via": "getChatMember", "reason": exc.code} for u in wanted}
            found.complete = True
        else:
            found.refused = exc.code
        return found
    found.calls[GET_CHAT_MEMBER] += len(wanted)
    for user_id, status in statuses.items():
        if status in IN_CHAT:
            found.verified[user_id] = {"via": "getChatMember", "status": status}
        else:
            found.rejected[user_id] = {"via": "getChatMember", "status": status}
    found.complete = True
    return found
