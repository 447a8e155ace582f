"""Reading X for a tenant: every call asks the budget for a slot first and the tenant's
cap whether it may spend, then reports X's answer to the budget (its rate-limit headers,
a 429, a server error) and bills what came back (``metering``). A read the budget or the
cap refuses never reaches X: ``ReadRefused`` says when to try again and why."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests
import tweepy
from django.conf import settings

from config.errors import ServiceError
from xclient.budget import budget_observe, budget_take
from xclient.credentials import credential_token
from xclient.metering import prices, usage_allows, usage_charge, usage_guard
from xclient.models import Credential, Priority, XLink
from xclient.transport import bind

if TYPE_CHECKING:
    from tenancy.models import Tenant

PLATFORM_APP = "platform"
# Reads that page, with (max_results when none is given, the fewest X accepts).
PAGED: dict[str, tuple[int, int]] = {
    "GET /2/tweets/search/recent": (10, 10),
    "GET /2/users/:id/tweets": (10, 5),
    "GET /2/users/:id/mentions": (10, 5),
    "GET /2/tweets/:id/quote_tweets": (10, 10),
    "GET /2/tweets/:id/liking_users": (100, 1),
    "GET /2/tweets/:id/retweeted_by": (100, 1),
    "GET /2/users/:id/following": (100, 1),
    "GET /2/users/:id/followers": (100, 1),
    "GET /2/users/:id/liked_tweets": (100, 5),
}
# Reads that return users, not posts.
USER_ENDPOINTS = frozenset(
    {
        "GET /2/users",
        "GET /2/users/by/username/:username",
        "GET /2/users/:id",
        "GET /2/users/me",
        "GET /2/tweets/:id/liking_users",
        "GET /2/tweets/:id/retweeted_by",
        "GET /2/users/:id/following",
        "GET /2/users/:id/followers",
    }
)
# X's "owned reads": an account's own data read with its own user token, billed at the
# owned-read price (the ``id`` of the path must be the token's account).
OWNED_ENDPOINTS = frozenset(
    f"GET /2/users/:id/{what}"
    for what in (
        "tweets", "mentions", "liked_tweets", "followers", "following", "bookmarks",
        "blocking", "muting", "pinned_lists", "owned_lists", "followed_lists",
        "list_memberships",
    )
)  # fmt: skip


class ReadRefused(ServiceError):
    """The budget or the tenant's cap says not now (``retry_at``: when, if known)."""

    def __init__(self, message: str, *, code: str, retry_at: datetime | None) -> None:
        super().__init__(message, code=code, status=429)
        self.retry_at = retry_at


class _Client(tweepy.Client):
    """tweepy's Client, keeping the last HTTP answer (its rate-limit headers)."""

    last: requests.Response | None = None

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        response: requests.Response = super().request(*args, **kwargs)
        self.last = response
        return response


class XReader:
    """Reads of ``tenant`` at ``priority``, with its own ``credential`` or, without one,
    the platform's app token (``X_BEARER_TOKEN``, shared by every tenant)."""

    def __init__(
        self, *, tenant: Tenant, priority: int, credential: Credential | None = None
    ) -> None:
        if credential is not None and credential.tenant_id != tenant.pk:
            raise ValueError("a tenant reads with its own credentials only")
        self.tenant, self.priority, self.credential = tenant, Priority(priority), credential
        self.user = credential is not None and credential.kind == Credential.Kind.USER
        self.shared = credential is None
        self.name = credential.name if credential is not None else f"app:{PLATFORM_APP}"
        # X bills the app behind a token: the tenant's own app for its app token; the
        # platform's for its app token and for user tokens connected through the
        # platform's OAuth client.
        own_app = credential is not None and credential.kind == Credential.Kind.APP
        self.app = f"t{tenant.pk}" if own_app else PLATFORM_APP

    def _worst_cost(self, endpoint: str, params: dict[str, Any]) -> tuple[int, int, int]:
        """(items, cost of each at most, fewest items the read can ask for): what the
        read can cost, before it is made. A post can bring its author and the posts it
        references along (``includes``), each billed."""
        rate = prices()
        if self._owned(endpoint, params):
            per_post, per_user = rate["owned_read"], rate["owned_read"]
        else:
            per_post, per_user = rate["post_read"], rate["user_read"]
        expansions = params.get("expansions") or ()
        if isinstance(expansions, str):
            expansions = expansions.split(",")
        ids = params.get("ids")
        count = len(ids.split(",") if isinstance(ids, str) else ids) if ids else 1
        if endpoint in USER_ENDPOINTS and endpoint not in PAGED:
            return count, per_user, count
        if endpoint in USER_ENDPOINTS:
            default, least = PAGED[endpoint]
            return int(params.get("max_results") or default), per_user, least
        each = per_post
        each += per_user if any(e.endswith("author_id") for e in expansions) else 0
        each += per_post if "referenced_tweets.id" in expansions else 0
        if endpoint in PAGED:
            default, least = PAGED[endpoint]
            return int(params.get("max_results") or default), each, least
        return count, each, count

    def _fit(self, endpoint: str, params: dict[str, Any], room: int | None) -> dict[str, Any]:
        """``params`` with ``max_results`` cut so the worst the read can cost fits in the
        room the tenant's cap leaves; ReadRefused when not even the fewest items fit."""
        if room is None:
            return params
        items, each, least = self._worst_cost(endpoint, params)
        if items * each <= room:
            return params
        fits = room // each if each else items
        if endpoint not in PAGED or fits < least:
            raise ReadRefused(
                "this community's X reads reached the monthly cap",
                code="x_cap_reached",
                retry_at=None,
            )
        return {**params, "max_results": fits}

    def _client(self) -> _Client:
        token = (
            settings.X_BEARER_TOKEN
            if self.credential is None
            else credential_token(credential=self.credential)
        )
        client = _Client(bearer_token=token)
        bind(client.session)
        return client

    def read(
        self, endpoint: str, method: str, *, now: datetime | None = None, **params: Any
    ) -> tweepy.Response:
        """``tweepy.Client.<method>(**params)``, counted against ``endpoint`` ("GET /2/...");
        ``now``: the time the budget and the meter count it at (a simulated clock). A capped
        tenant's read asks at most for what its cap still pays for (``_fit``)."""
        if not usage_allows(tenant=self.tenant, now=now):
            raise ReadRefused(
                "this community's X reads reached the monthly cap",
                code="x_cap_reached",
                retry_at=None,
            )
        with usage_guard(tenant=self.tenant, now=now) as room:
            params = self._fit(endpoint, params, room)
            return self._read(endpoint, method, now=now, **params)

    def _read(
        self, endpoint: str, method: str, *, now: datetime | None, **params: Any
    ) -> tweepy.Response:
        slot = budget_take(
            credential=self.name,
            endpoint=endpoint,
            user=self.user,
            priority=self.priority,
            tenant=self.tenant,
            shared=self.shared,
            now=now,
        )
        if not slot.granted:
            raise ReadRefused(
                f"X's rate limit for {endpoint}: wait ({slot.reason})",
                code=f"x_{slot.reason}",
                retry_at=slot.retry_at,
            )
        client = self._client()
        try:
            result = getattr(client, method)(**params)
        except tweepy.HTTPException as exc:
            self._observe(endpoint, exc.response.status_code, exc.response.headers, now)
            raise
        answer = client.last
        assert answer is not None  # set by the request that returned ``result``
        self._observe(endpoint, answer.status_code, answer.headers, now)
        posts, users = _returned(result)
        usage_charge(
            tenant=self.tenant,
            app=self.app,
            post_ids=posts,
            user_reads=users,
            owned=self._owned(endpoint, params),
            now=now,
        )
        return result

    def _owned(self, endpoint: str, params: dict[str, Any]) -> bool:
        return (
            self.credential is not None
            and self.user
            and endpoint in OWNED_ENDPOINTS
            and str(params.get("id")) == str(self.credential.x_user_id)
        )

    def _observe(self, endpoint: str, status: int, headers: Any, now: datetime | None) -> None:
        budget_observe(
            credential=self.name,
            endpoint=endpoint,
            status=status,
            headers=dict(headers),
            user=self.user,
            now=now or datetime.now(UTC),
        )

    def search_recent(
        self, query: str, *, now: datetime | None = None, **params: Any
    ) -> tweepy.Response:
        return self.read(
            "GET /2/tweets/search/recent", "search_recent_tweets", now=now, query=query, **params
        )

    def user_posts(self, user_id: int, **params: Any) -> tweepy.Response:
        return self.read("GET /2/users/:id/tweets", "get_users_tweets", id=user_id, **params)

    def users(self, ids: list[int], **params: Any) -> tweepy.Response:
        """Up to 100 accounts by X id (``GET /2/users``), one user read each found."""
        return self.read("GET /2/users", "get_users", ids=ids, **params)

    def user_by_username(self, username: str, **params: Any) -> tweepy.Response:
        return self.read(
            "GET /2/users/by/username/:username", "get_user", username=username, **params
        )

    # Engagement lists (raids' validation): each page newest first, ``pagination_token``
    # from the previous page's ``meta.next_token``.
    def retweeted_by(self, post_id: int, **params: Any) -> tweepy.Response:
        """Accounts that reposted the post (1-100 a page)."""
        return self.read("GET /2/tweets/:id/retweeted_by", "get_retweeters", id=post_id, **params)

    def quote_tweets(self, post_id: int, **params: Any) -> tweepy.Response:
        """Posts quoting the post (10-100 a page)."""
        return self.read("GET /2/tweets/:id/quote_tweets", "get_quote_tweets", id=post_id, **params)

    def liking_users(self, post_id: int, **params: Any) -> tweepy.Response:
        """Accounts that liked the post: X returns only the 100 most recent."""
        return self.read("GET /2/tweets/:id/liking_users", "get_liking_users", id=post_id, **params)

    def followers(self, user_id: int, **params: Any) -> tweepy.Response:
        """Accounts following ``user_id`` (1-1000 a page)."""
        return self.read("GET /2/users/:id/followers", "get_users_followers", id=user_id, **params)

    def following(self, user_id: int, **params: Any) -> tweepy.Response:
        """Accounts ``user_id`` follows (1-1000 a page)."""
        return self.read("GET /2/users/:id/following", "get_users_following", id=user_id, **params)

    def post(self, post_id: int, **params: Any) -> tweepy.Response:
        """One post by id (``GET /2/tweets/:id``), e.g. with ``expansions=["author_id"]``
        for its author as X knows it. ``data`` is None when X has no such post (deleted,
        protected or never existed: X answers with an ``errors`` entry only)."""
        return self.read("GET /2/tweets/:id", "get_tweet", id=post_id, **params)


class LinkReader(XReader):
    """Reads with the user token of a Telegram user's X link (made through X's consent):
    counted against that user's own rate-limit window (``budget_take(..., user=True)``),
    cap-checked and billed to ``tenant``, at the owned-read price when the read is of the
    link's own account (``OWNED_ENDPOINTS``). The token is refreshed when it is about to
    expire; a link without one (code-linked, unlinked) refuses with ``x_no_token``."""

    def __init__(self, *, tenant: Tenant, priority: int, link: XLink) -> None:
        super().__init__(tenant=tenant, priority=priority)
        self.link = link
        self.user, self.shared = True, False
        self.name = f"link:{link.x_user_id}"
        self.app = PLATFORM_APP  # tokens of links come through the platform's OAuth client

    def _client(self) -> _Client:
        # Imported here: xclient.links reads X through this module.
        from xclient.links import link_token

        client = _Client(bearer_token=link_token(link=self.link))
        bind(client.session)
        return client

    def _owned(self, endpoint: str, params: dict[str, Any]) -> bool:
        return endpoint in OWNED_ENDPOINTS and str(params.get("id")) == str(self.link.x_user_id)

    def liked_tweets(self, user_id: int, **params: Any) -> tweepy.Response:
        """Posts ``user_id`` liked, the latest like first (5-100 a page); an owned read
        when ``user_id`` is the link's own account."""
        return self.read("GET /2/users/:id/liked_tweets", "get_liked_tweets", id=user_id, **params)


def _returned(result: tweepy.Response) -> tuple[list[int], int]:
    """(ids of the posts, number of users) an answer returned: what X bills."""
    data: Iterable[Any] = result.data if isinstance(result.data, list) else [result.data]
    posts: list[int] = []
    users = 0
    for item in [d for d in data if d is not None]:
        if isinstance(item, tweepy.Tweet):
            posts.append(int(item.id))
        elif isinstance(item, tweepy.User):
            users += 1
    includes = result.includes or {}
    posts += [int(post.id) for post in includes.get("tweets", [])]
    users += len(includes.get("users", []))
    return posts, users


class PlatformReader:
    """Searches through the platform's app for many tenants at once (the X feed's shared
    poller): each read is counted against the platform app's budget at ``priority`` like
    any other, but neither cap-checked nor billed here, because no one tenant asked for
    it. The caller routes what came back and bills each tenant for its part
    (``usage_charge`` under its ``usage_guard``), dropping what a cap has no room for."""

    name = f"app:{PLATFORM_APP}"

    def __init__(self, *, priority: int) -> None:
        self.priority = Priority(priority)

    def search_recent(
        self, query: str, *, now: datetime | None = None, **params: Any
    ) -> tweepy.Response:
        endpoint = "GET /2/tweets/search/recent"
        slot = budget_take(credential=self.name, endpoint=endpoint, priority=self.priority, now=now)
        if not slot.granted:
            raise ReadRefused(
                f"X's rate limit for {endpoint}: wait ({slot.reason})",
                code=f"x_{slot.reason}",
                retry_at=slot.retry_at,
            )
        client = _Client(bearer_token=settings.X_BEARER_TOKEN)
        bind(client.session)
        when = now or datetime.now(UTC)
        try:
            result = client.search_recent_tweets(query=query, **params)
        except tweepy.HTTPException as exc:
            _observe(self.name, endpoint, exc.response.status_code, exc.response.headers, when)
            raise
        answer = client.last
        assert answer is not None  # set by the request that returned ``result``
        _observe(self.name, endpoint, answer.status_code, answer.headers, when)
        return result


def _observe(name: str, endpoint: str, status: int, headers: Any, now: datetime) -> None:
    budget_observe(
        credential=name, endpoint=endpoint, status=status, headers=dict(headers), now=now
    )
