"""End users' X accounts: one X account per Telegram user and one Telegram user per X
account across the whole platform, proven by X's OAuth 2.0 consent (``link_oauth_start``,
then X's redirect to ``/x/callback``: ``link_oauth_callback``) or by a one-time code
posted from the account (``link_code_start``, ``link_code_verify``). The account linked
is always the one X names (the token's ``users/me``, the author of the post carrying the
code), never the handle the user typed.

After an unlink, for ``XLINK_RELINK_COOLDOWN_DAYS``, that X account links to no other
Telegram user and the user links no other X account (the same pair may relink). Writes
of one X account and of one user are serialised by transaction advisory locks taken in a
fixed order (X account, then user: there may be no row to lock yet), then the rows
concerned are locked; the partial unique indexes on active links are the last line,
which a correct caller never reaches."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
import tweepy
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

import history.services as history
from config.encryption import decrypt
from config.errors import ServiceError
from xclient.credentials import (
    REFRESH_AHEAD,
    connect_flow_start,
    connect_flow_take,
    connect_token_fetch,
    state_of,
    token_fields,
    token_refresh,
)
from xclient.models import LinkCode, Priority, XLink
from xclient.reader import ReadRefused, XReader
from xclient.transport import x_client

if TYPE_CHECKING:
    from accounts.models import TelegramUser
    from tenancy.models import Tenant

logger = logging.getLogger(__name__)

# What raids read later with the user's own token: their likes (owned reads).
LINK_SCOPES = ["tweet.read", "users.read", "like.read", "offline.access"]
USER_FIELDS = ["created_at", "public_metrics"]
CODE_TTL = timedelta(minutes=30)
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
HANDLE = re.compile(r"^@?([A-Za-z0-9_]{1,15})$")


@dataclass(frozen=True)
class XAccount:
    """An X account as X described it."""

    x_user_id: int
    username: str
    created_at: datetime | None
    followers: int

    @classmethod
    def of(cls, user: tweepy.User) -> XAccount:
        metrics = user.public_metrics or {}
        return cls(
            x_user_id=int(user.id),
            username=str(user.username),
            created_at=user.created_at,
            followers=int(metrics.get("followers_count") or 0),
        )


def _cooldown() -> timedelta:
    return timedelta(days=settings.XLINK_RELINK_COOLDOWN_DAYS)


def _lock(kind: str, key: int) -> None:
    """A transaction advisory lock of (``kind``, ``key``): two int4s (a hash collision
    only makes two writers wait for each other)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", [kind, str(key)])


def _refusal(
    *, user: TelegramUser, x_user_id: int, username: str, now: datetime, confirmed: bool
) -> ServiceError | None:
    """Why ``user`` may not link ``x_user_id`` now (None: they may). Under the locks of
    ``link_create`` this is the rule; elsewhere an early answer. A link Telegram vouched
    for is not held back by links made only on a tenant's word (``_displaced``): those
    could be a brand owner's forgery taking the user's or the account's place."""
    active = XLink.objects.filter(unlinked_at__isnull=True).filter(
        Q(user=user) | Q(x_user_id=x_user_id)
    )
    if confirmed:
        active = active.filter(confirmed=True)
    for link in active:
        if link.user_id == user.pk and link.x_user_id == x_user_id:
            continue  # the same pair: relinking renews it
        if link.x_user_id == x_user_id:
            return ServiceError(
                f"x_account: @{username} is linked to another Telegram user",
                code="x_account_taken",
                status=409,
            )
        return ServiceError(
            f"user: you already linked @{link.username}; unlink it first",
            code="already_linked",
            status=409,
        )
    since = now - _cooldown()
    recent_qs = XLink.objects.filter(x_user_id=x_user_id, unlinked_at__gt=since).exclude(user=user)
    if confirmed:
        recent_qs = recent_qs.filter(confirmed=True)
    recent = recent_qs.order_by("-unlinked_at").first()
    if recent is not None and recent.unlinked_at is not None:
        return ServiceError(
            f"x_account: @{username} was unlinked from another Telegram user on "
            f"{recent.unlinked_at:%Y-%m-%d}; it can be linked again from "
            f"{recent.unlinked_at + _cooldown():%Y-%m-%d %H:%M} UTC",
            code="x_account_cooldown",
            status=409,
        )
    # Only links Telegram vouched for start the user's cooldown: one a tenant's owner
    # made with a forged initData must not lock the real person out of their account.
    mine = (
        XLink.objects.filter(user=user, confirmed=True, unlinked_at__gt=since)
        .exclude(x_user_id=x_user_id)
        .order_by("-unlinked_at")
        .first()
    )
    if mine is not None and mine.unlinked_at is not None:
        return ServiceError(
            f"user: you unlinked @{mine.username} on {mine.unlinked_at:%Y-%m-%d}; another "
            f"X account can be linked from {mine.unlinked_at + _cooldown():%Y-%m-%d %H:%M} "
            "UTC (relinking @" + mine.username + " is allowed now)",
            code="user_cooldown",
            status=409,
        )
    return None


def _displace(*, user: TelegramUser, x_user_id: int, tenant: Tenant, now: datetime) -> None:
    """Unlink the active links made only on a tenant's word that stand in the way of a
    link Telegram vouched for: the user's link to another account, another user's link
    to this account (under ``link_create``'s locks)."""
    stale = (
        XLink.objects.filter(unlinked_at__isnull=True, confirmed=False)
        .filter(Q(user=user) | Q(x_user_id=x_user_id))
        .exclude(user=user, x_user_id=x_user_id)
    )
    for link in stale:
        link.unlinked_at = now
        link.access_token = link.refresh_token = ""
        link.expires_at = None
        link.save()
        history.record(
            action="xclient.link_displaced",
            actor=history.Actor.user(user),
            tenant=tenant,
            target=("x_link", link.pk),
            data={"x_user_id": link.x_user_id, "user_id": link.user_id},
        )


def link_create(
    *,
    user: TelegramUser,
    tenant: Tenant,
    account: XAccount,
    via: str,
    confirmed: bool,
    token: dict | None = None,
    now: datetime | None = None,
) -> XLink:
    """Link ``account`` to ``user`` (through ``tenant``), or renew the same pair's link
    (its figures and tokens): 409 when the uniqueness or the cooldown forbids it."""
    now = now or datetime.now(UTC)
    with transaction.atomic():
        _lock("xclient.xlink.x", account.x_user_id)  # always first: a fixed order
        _lock("xclient.xlink.user", user.pk)
        list(
            XLink.objects.select_for_update()
            .filter(unlinked_at__isnull=True)
            .filter(Q(user=user) | Q(x_user_id=account.x_user_id))
        )
        refusal = _refusal(
            user=user,
            x_user_id=account.x_user_id,
            username=account.username,
            now=now,
            confirmed=confirmed,
        )
        if refusal is not None:
            raise refusal
        if confirmed:
            _displace(user=user, x_user_id=account.x_user_id, tenant=tenant, now=now)
        fields: dict[str, Any] = {
            "username": account.username,
            "x_created_at": account.created_at,
            "followers": account.followers,
            "refreshed_at": now,
        }
        if token is not None:
            fields |= token_fields(token) | {"scopes": " ".join(token.get("scope") or [])}
        link = XLink.objects.filter(
            user=user, x_user_id=account.x_user_id, unlinked_at__isnull=True
        ).first()
        action = "xclient.link_renewed"
        if link is None:
            action = "xclient.link_created"
            link = XLink(user=user, x_user_id=account.x_user_id, linked_at=now)
        for name, value in fields.items():
            setattr(link, name, value)
        link.tenant, link.via = tenant, via
        link.confirmed = link.confirmed or confirmed
        link.save()
        history.record(
            action=action,
            actor=history.Actor.user(user),
            tenant=tenant,
            target=("x_link", link.pk),
            data={
                "x_user_id": link.x_user_id,
                "username": link.username,
                "via": via,
                "followers": link.followers,
                "confirmed": confirmed,
            },
        )
    logger.info(
        action,
        extra={"x_link": link.pk, "user": user.pk, "tenant": tenant.pk, "via": via},
    )
    return link


# ---- OAuth 2.0 with PKCE ----------------------------------------------------------------
def link_oauth_start(
    *, user: TelegramUser, tenant: Tenant, redirect_uri: str, confirmed: bool
) -> str:
    """X's consent URL for linking the account the user approves with (the flow's state
    is single-use and lives ten minutes, ``credentials.CONNECT_TTL``)."""
    return connect_flow_start(
        tenant=tenant,
        redirect_uri=redirect_uri,
        scopes=LINK_SCOPES,
        kind="link",
        user=user,
        confirmed=confirmed,
        started_by=str(user.telegram_id),
    )


def link_oauth_callback(*, callback_url: str) -> XLink:
    """X's redirect back (``?state=...&code=...``): the flow's state names the user and the
    tenant; the token's ``users/me`` names the account."""
    flow = connect_flow_take(state=state_of(callback_url), kind="link")
    token = connect_token_fetch(flow=flow, callback_url=callback_url, scopes=LINK_SCOPES)
    try:
        me = x_client(bearer_token=token["access_token"]).get_me(
            user_auth=False, user_fields=USER_FIELDS
        )
    except (tweepy.TweepyException, requests.RequestException) as exc:
        raise ServiceError(f"X did not answer who approved: {exc}", code="x_refused") from exc
    if flow.user is None or me.data is None:
        raise ServiceError("X did not say which account approved", code="x_refused")
    return link_create(
        user=flow.user,
        tenant=flow.tenant,
        account=XAccount.of(me.data),
        via=XLink.Via.OAUTH,
        confirmed=flow.confirmed,
        token=token,
    )


def link_token(*, link: XLink, now: datetime | None = None) -> str:
    """The link's user access token, refreshed first when it expires within
    ``REFRESH_AHEAD`` (under the link's row lock: X rotates refresh tokens)."""
    now = now or datetime.now(UTC)
    if not link.access_token or link.unlinked_at is not None:
        raise ServiceError(
            f"@{link.username} was not linked through X's consent: no token",
            code="x_no_token",
            status=404,
        )
    if link.expires_at is None or link.expires_at - REFRESH_AHEAD > now:
        return decrypt(link.access_token)
    with transaction.atomic():
        locked = XLink.objects.select_for_update().get(pk=link.pk)
        if locked.unlinked_at is not None or not locked.refresh_token:  # unlinked meanwhile
            raise ServiceError(
                f"@{link.username} is no longer linked: no token", code="x_no_token", status=404
            )
        if locked.expires_at is not None and locked.expires_at - REFRESH_AHEAD > now:
            return decrypt(locked.access_token)  # another process refreshed it meanwhile
        token = token_refresh(
            refresh_token=locked.refresh_token, username=locked.username, scopes=LINK_SCOPES
        )
        for name, value in token_fields(token).items():
            setattr(locked, name, value)
        locked.save()
    logger.info("xclient.link_token_refreshed", extra={"x_link": link.pk})
    return str(token["access_token"])


# ---- the one-time code ------------------------------------------------------------------
def handle_clean(username: str) -> str:
    """An X handle as typed (``@name`` or ``name``), checked: 400 ``invalid_username``."""
    found = HANDLE.match(username.strip())
    if found is None:
        raise ServiceError(
            "username: an X handle is 1 to 15 letters, digits or _",
            code="invalid_username",
        )
    return found.group(1)


def link_code_start(
    *,
    user: TelegramUser,
    tenant: Tenant,
    username: str,
    confirmed: bool,
    now: datetime | None = None,
) -> LinkCode:
    """A new one-time code for the user to post from ``username`` (replacing any code
    they had). The handle must exist on X, and be linkable by this user."""
    now = now or datetime.now(UTC)
    handle = handle_clean(username)
    reader = XReader(tenant=tenant, priority=Priority.VALIDATION)
    found = reader.user_by_username(handle, user_fields=USER_FIELDS).data
    if found is None:
        raise ServiceError(
            f"username: X has no account @{handle}", code="x_user_not_found", status=404
        )
    account = XAccount.of(found)
    refusal = _refusal(
        user=user,
        x_user_id=account.x_user_id,
        username=account.username,
        now=now,
        confirmed=confirmed,
    )
    if refusal is not None:
        raise refusal
    code = "BB" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    with transaction.atomic():
        waiting = LinkCode.objects.select_for_update().filter(user=user).first()
        if not confirmed and waiting and waiting.confirmed and waiting.expires_at > now:
            # On a tenant's word alone, never replace the code the user really asked for.
            raise ServiceError(
                "a code the user asked for through Telegram is waiting: ask from the "
                "community's bot (/linkx @handle) or the Mini App opened in Telegram",
                code="telegram_confirmation_required",
                status=403,
            )
        pending, _ = LinkCode.objects.update_or_create(
            user=user,
            defaults={
                "tenant": tenant,
                "username": account.username,
                "code": code,
                "confirmed": confirmed,
                "created_at": now,
                "expires_at": now + CODE_TTL,
            },
        )
        history.record(
            action="xclient.link_code_issued",
            actor=history.Actor.user(user),
            tenant=tenant,
            target=("x_link_code", pending.pk),
            data={"username": account.username},
        )
    return pending


def link_code_verify(*, user: TelegramUser, now: datetime | None = None) -> XLink:
    """Look for the user's code in the recent posts of the handle they named (a search at
    raid-validation priority, billed to the tenant they came through) and link the
    author X names. The code works once."""
    now = now or datetime.now(UTC)
    pending = LinkCode.objects.select_related("tenant").filter(user=user).first()
    if pending is None:
        raise ServiceError(
            "no code is waiting: ask for one first (method code)",
            code="no_pending_code",
            status=404,
        )
    if pending.expires_at <= now:
        pending.delete()
        raise ServiceError("the code expired: ask for a new one", code="code_expired")
    reader = XReader(tenant=pending.tenant, priority=Priority.VALIDATION)
    # Only the account's own words count: a repost or a quote of somebody else's post
    # carries that post's text, so reposting a post with the code would link the reposter.
    found = reader.search_recent(
        f'from:{pending.username} "{pending.code}" -is:retweet -is:quote',
        expansions=["author_id"],
        tweet_fields=["author_id", "referenced_tweets"],
        user_fields=USER_FIELDS,
    )
    authors = {int(u.id): u for u in (found.includes or {}).get("users", [])}
    post = next((p for p in found.data or [] if _own_post_with(p, pending, authors)), None)
    if post is None:
        raise ServiceError(
            f"no recent post from @{pending.username} has the code {pending.code}: post it "
            "from that account, then verify again",
            code="code_not_found",
        )
    with transaction.atomic():
        # Once: a second verify of the same code finds nothing.
        if not LinkCode.objects.filter(pk=pending.pk, code=pending.code).delete()[0]:
            raise ServiceError("no code is waiting", code="no_pending_code", status=404)
        return link_create(
            user=user,
            tenant=pending.tenant,
            account=XAccount.of(authors[int(post.author_id)]),
            via=XLink.Via.CODE,
            confirmed=pending.confirmed,
            now=now,
        )


def _own_post_with(post: Any, pending: LinkCode, authors: dict[int, Any]) -> bool:
    """The post is the named account's own (not a repost or quote) and carries the code,
    whatever the search matched."""
    author = authors.get(int(post.author_id))
    if author is None or str(author.username).lower() != pending.username.lower():
        return False
    references = {ref.type for ref in post.referenced_tweets or []}
    return not references & {"retweeted", "quoted"} and pending.code in (post.text or "")


# ---- unlinking --------------------------------------------------------------------------
def link_remove(
    *,
    user: TelegramUser,
    confirmed: bool,
    tenant: Tenant | None = None,
    now: datetime | None = None,
) -> XLink:
    """Unlink the user's X account (the row stays, with ``unlinked_at``; its tokens are
    forgotten). A link Telegram vouched for is unlinked only on Telegram's word too; on a
    tenant's word alone (``tenant``: the one asking) only a link made through it."""
    now = now or datetime.now(UTC)
    with transaction.atomic():
        _lock("xclient.xlink.user", user.pk)
        link = XLink.objects.select_for_update().filter(user=user, unlinked_at__isnull=True).first()
        if link is None:
            raise ServiceError("no X account is linked", code="not_linked", status=404)
        another = tenant is not None and link.tenant_id != tenant.pk
        if not confirmed and (link.confirmed or another):
            raise ServiceError(
                "unlink from the community's bot (/unlinkx) or the Mini App opened in Telegram",
                code="telegram_confirmation_required",
                status=403,
            )
        link.unlinked_at = now
        link.access_token = link.refresh_token = ""
        link.expires_at = None
        link.save()
        history.record(
            action="xclient.link_removed",
            actor=history.Actor.user(user),
            tenant=link.tenant_id,
            target=("x_link", link.pk),
            data={"x_user_id": link.x_user_id, "username": link.username},
        )
    logger.info("xclient.link_removed", extra={"x_link": link.pk, "user": user.pk})
    return link


# ---- refreshing the figures -------------------------------------------------------------
def links_refresh(
    *,
    tenant: Tenant,
    now: datetime | None = None,
    older_than: timedelta = timedelta(days=1),
    batch: int = 100,
    max_batches: int = 50,
) -> int:
    """Followers and usernames of active links refreshed more than ``older_than`` ago,
    ``batch`` accounts per ``GET /2/users`` at the lowest priority, on the platform's app
    (billed to ``tenant``, the platform's own). The budget refusing ends the round
    quietly: the rest waits for the next. Returns how many links were refreshed."""
    now = now or datetime.now(UTC)
    reader = XReader(tenant=tenant, priority=Priority.KOL_METRICS)
    done = 0
    for _ in range(max_batches):
        links = list(
            XLink.objects.filter(unlinked_at__isnull=True, refreshed_at__lt=now - older_than)
            .order_by("refreshed_at", "pk")
            .values_list("pk", "x_user_id")[:batch]
        )
        if not links:
            break
        try:
            answer = reader.users([x_id for _, x_id in links], user_fields=USER_FIELDS)
        except ReadRefused as exc:  # the budget or the cap says not now
            logger.info("xclient.links_refresh_deferred", extra={"code": exc.code})
            break
        found = {int(u.id): XAccount.of(u) for u in answer.data or []}
        with transaction.atomic():
            for pk, x_id in links:
                account = found.get(x_id)
                update: dict[str, Any] = {"refreshed_at": now}
                if account is not None:  # gone from X (suspended, deleted): kept as it was
                    update |= {"followers": account.followers, "username": account.username}
                XLink.objects.filter(pk=pk, unlinked_at__isnull=True).update(**update)
        done += len(links)
    if done:
        logger.info("xclient.links_refreshed", extra={"count": done})
    return done
