"""The X API v2 read endpoints the sandbox serves, as plain functions of the world and
a request's query: each returns the JSON body (``data``, ``includes``, ``meta``,
``errors``) or raises ApiError. The server authenticates, rate-limits and logs around
them, holding the world's lock."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sandbox.clock import Clock
from sandbox.x import paging
from sandbox.x.auth import Credential
from sandbox.x.errors import invalid_request, not_found, not_found_error
from sandbox.x.objects import JSONDict, Renderer, View
from sandbox.x.query import QueryError, parse
from sandbox.x.world import Account, Post, World

T = TypeVar("T")

RECENT_SECONDS = 7 * 24 * 3600  # recent search covers the last seven days
TIMELINE_CAP = 3200  # a user's timeline reaches back this many posts
LIKING_USERS_CAP = 100  # X returns at most the 100 most recent likers of a post
TOKENS = ("pagination_token",)


@dataclass
class Request:
    world: World
    clock: Clock
    credential: Credential
    path: dict[str, str]
    query: dict[str, str]


Endpoint = Callable[[Request], JSONDict]


def _id(request: Request, name: str = "id") -> str:
    value = request.path[name]
    if not re.fullmatch(r"[0-9]{1,19}", value):
        raise invalid_request(
            f"The `{name}` query parameter value [{value}] does not match ^[0-9]{{1,19}}$",
            name,
            value,
        )
    return value


def _by_id(request: Request, table: dict[str, T], resource_type: str) -> T:
    """The resource the path's ``id`` names, or X's 200-with-errors when it is missing."""
    resource_id = _id(request)
    found = table.get(resource_id)
    if found is None:
        raise not_found_error(resource_type, "id", resource_id)
    return found


def _account(request: Request) -> Account:
    return _by_id(request, request.world.accounts, "user")


def _post(request: Request) -> Post:
    return _by_id(request, request.world.posts, "tweet")


def _body(renderer: Renderer, data: Any, meta: JSONDict | None = None) -> JSONDict:
    body: JSONDict = {} if data is None or data == [] else {"data": data}
    includes = renderer.includes()
    if includes:
        body["includes"] = includes
    if meta is not None:
        body["meta"] = meta
    return body


def _post_list(
    request: Request,
    posts: list[Post],
    low: int,
    high: int,
    default: int,
    tokens: tuple[str, ...] = TOKENS,
) -> JSONDict:
    size = paging.max_results(request.query, low, high, default)
    view = View.of(request.query)
    windowed = paging.in_window(posts, request.query)
    chosen, token = paging.page([(int(p.id), p) for p in windowed], request.query, size, tokens)
    renderer = Renderer(request.world, view)
    data = [renderer.post(p) for p in chosen]
    return _body(renderer, data, paging.meta(data, token, posts=True))


def _keyed_post_list(
    request: Request, keyed: list[tuple[int, Post]], low: int, high: int, default: int
) -> JSONDict:
    """A page of posts in an order of their own (``keyed`` by e.g. like seq, descending):
    no since/until window, and no newest_id/oldest_id in ``meta``, as X's liked_tweets."""
    size = paging.max_results(request.query, low, high, default)
    chosen, token = paging.page(keyed, request.query, size, TOKENS)
    renderer = Renderer(request.world, View.of(request.query))
    data = [renderer.post(p) for p in chosen]
    return _body(renderer, data, paging.meta(data, token, posts=False))


def _user_list(
    request: Request, keyed: list[tuple[int, Account]], low: int, high: int, default: int
) -> JSONDict:
    size = paging.max_results(request.query, low, high, default)
    view = View.of(request.query, users_primary=True)
    chosen, token = paging.page(keyed, request.query, size, TOKENS)
    renderer = Renderer(request.world, view)
    data = [renderer.user(a) for a in chosen]
    return _body(renderer, data, paging.meta(data, token, posts=False))


# ---- users ---------------------------------------------------------------------------
def user_by_username(request: Request) -> JSONDict:
    username = request.path["username"]
    if not re.fullmatch(r"\w{1,15}", username):
        raise invalid_request(
            f"The `username` query parameter value [{username}] does not match "
            "^[A-Za-z0-9_]{1,15}$",
            "username",
            username,
        )
    account_id = request.world.by_username.get(username.lower())
    if account_id is None:
        raise not_found_error("user", "username", username)
    renderer = Renderer(request.world, View.of(request.query, users_primary=True))
    return _body(renderer, renderer.user(request.world.accounts[account_id]))


def user_by_id(request: Request) -> JSONDict:
    renderer = Renderer(request.world, View.of(request.query, users_primary=True))
    return _body(renderer, renderer.user(_account(request)))


def users_lookup(request: Request) -> JSONDict:
    renderer = Renderer(request.world, View.of(request.query, users_primary=True))
    accounts = request.world.accounts
    found = [
        (i, renderer.user(accounts[i]) if i in accounts else None) for i in _ids(request, "user")
    ]
    return _lookup(renderer, found, "user")


def me(request: Request) -> JSONDict:
    account = request.world.accounts[request.credential.account_id or ""]
    renderer = Renderer(request.world, View.of(request.query, users_primary=True))
    return _body(renderer, renderer.user(account))


def user_tweets(request: Request) -> JSONDict:
    account = _account(request)
    exclude = set(filter(None, request.query.get("exclude", "").split(",")))
    if exclude - {"retweets", "replies"}:
        raise invalid_request(
            f"The `exclude` query parameter value [{','.join(sorted(exclude))}] is not one of "
            "[replies,retweets]",
            "exclude",
            ",".join(sorted(exclude)),
        )
    posts = [p for p in request.world.posts_newest_first() if p.author_id == account.id]
    posts = posts[:TIMELINE_CAP]
    if "retweets" in exclude:
        posts = [p for p in posts if not p.reference("retweeted")]
    if "replies" in exclude:
        posts = [p for p in posts if not p.reference("replied_to")]
    return _post_list(request, posts, 5, 100, 10)


def user_mentions(request: Request) -> JSONDict:
    account = _account(request)
    posts = [
        p
        for p in request.world.posts_newest_first()
        if any(m.get("id") == account.id for m in p.entities.get("mentions", []))
    ]
    return _post_list(request, posts[:800], 5, 100, 10)


def following(request: Request) -> JSONDict:
    account = _account(request)
    world = request.world
    keyed = sorted(
        ((seq, world.accounts[aid]) for aid, seq in account.following.items()),
        key=lambda pair: pair[0],
        reverse=True,
    )
    return _user_list(request, keyed, 1, 1000, 100)


def followers(request: Request) -> JSONDict:
    account = _account(request)
    world = request.world
    # The latest follow first, as X lists them (each follower's own follow seq).
    keyed = sorted(
        (
            (world.accounts[aid].following[account.id], world.accounts[aid])
            for aid in account.followers
        ),
        key=lambda pair: pair[0],
        reverse=True,
    )
    return _user_list(request, keyed, 1, 1000, 100)


def liked_tweets(request: Request) -> JSONDict:
    """The posts the account liked, its latest like first (likes carry no time on X)."""
    account = _account(request)
    liked = sorted(
        (
            (post.likers[account.id], post)
            for post in request.world.posts.values()
            if account.id in post.likers
        ),
        key=lambda pair: pair[0],
        reverse=True,
    )
    return _keyed_post_list(request, liked, 5, 100, 100)


# ---- posts ---------------------------------------------------------------------------
def _ids(request: Request, what: str) -> list[str]:
    """The ``ids`` of a lookup: 1 to 100 numeric ids, comma-separated, as X takes them."""
    raw = request.query.get("ids", "")
    ids = [i for i in raw.split(",") if i]
    if not ids or len(ids) > 100 or not all(re.fullmatch(r"[0-9]{1,19}", i) for i in ids):
        raise invalid_request(
            f"The `ids` query parameter value [{raw}] is not 1 to 100 comma-separated {what} ids",
            "ids",
            raw,
        )
    return ids


def _lookup(renderer: Renderer, found: list[tuple[str, JSONDict | None]], kind: str) -> JSONDict:
    """X's lookup answer: what was found as ``data``, each id not found as an error."""
    body = _body(renderer, [item for _, item in found if item is not None])
    errors = [not_found(kind, "ids", key) for key, item in found if item is None]
    if errors:
        body["errors"] = errors
    return body


def tweets_lookup(request: Request) -> JSONDict:
    renderer = Renderer(request.world, View.of(request.query))
    posts = request.world.posts
    found = [(i, renderer.post(posts[i]) if i in posts else None) for i in _ids(request, "post")]
    return _lookup(renderer, found, "tweet")


def tweet_by_id(request: Request) -> JSONDict:
    renderer = Renderer(request.world, View.of(request.query))
    return _body(renderer, renderer.post(_post(request)))


def search_recent(request: Request) -> JSONDict:
    query = request.query.get("query")
    if query is None:
        raise invalid_request("The `query` query parameter can not be empty", "query", "")
    try:
        match = parse(query)
    except QueryError as exc:
        raise invalid_request(
            f"There were errors processing your request: {exc}", "query", query
        ) from None
    world, oldest = request.world, request.clock() - RECENT_SECONDS
    posts = [
        p
        for p in world.posts_newest_first()
        if p.created_at >= oldest and match(world.searchable(p))
    ]
    return _post_list(request, posts, 10, 100, 10, ("next_token", "pagination_token"))


def liking_users(request: Request) -> JSONDict:
    post = _post(request)
    likers = sorted(((seq, aid) for aid, seq in post.likers.items()), reverse=True)
    keyed = [(seq, request.world.accounts[aid]) for seq, aid in likers[:LIKING_USERS_CAP]]
    return _user_list(request, keyed, 1, 100, 100)


def retweeted_by(request: Request) -> JSONDict:
    post = _post(request)
    reposters = sorted(((seq, aid) for aid, seq in post.reposters.items()), reverse=True)
    return _user_list(request, [(s, request.world.accounts[a]) for s, a in reposters], 1, 100, 100)


def quote_tweets(request: Request) -> JSONDict:
    post = _post(request)
    quotes = [p for p in request.world.posts_newest_first() if ("quoted", post.id) in p.references]
    return _post_list(request, quotes, 10, 100, 10)


# (method, route, endpoint name in X's rate-limit table, function)
ROUTES: list[tuple[str, str, str, Endpoint]] = [
    ("GET", "/2/users/me", "/2/users/me", me),
    ("GET", "/2/users", "/2/users", users_lookup),
    ("GET", "/2/users/by/username/{username}", "/2/users/by/username/:username", user_by_username),
    ("GET", "/2/users/{id}", "/2/users/:id", user_by_id),
    ("GET", "/2/users/{id}/tweets", "/2/users/:id/tweets", user_tweets),
    ("GET", "/2/users/{id}/mentions", "/2/users/:id/mentions", user_mentions),
    ("GET", "/2/users/{id}/following", "/2/users/:id/following", following),
    ("GET", "/2/users/{id}/followers", "/2/users/:id/followers", followers),
    ("GET", "/2/users/{id}/liked_tweets", "/2/users/:id/liked_tweets", liked_tweets),
    ("GET", "/2/tweets", "/2/tweets", tweets_lookup),
    ("GET", "/2/tweets/search/recent", "/2/tweets/search/recent", search_recent),
    ("GET", "/2/tweets/{id}", "/2/tweets/:id", tweet_by_id),
    ("GET", "/2/tweets/{id}/liking_users", "/2/tweets/:id/liking_users", liking_users),
    ("GET", "/2/tweets/{id}/retweeted_by", "/2/tweets/:id/retweeted_by", retweeted_by),
    ("GET", "/2/tweets/{id}/quote_tweets", "/2/tweets/:id/quote_tweets", quote_tweets),
]
