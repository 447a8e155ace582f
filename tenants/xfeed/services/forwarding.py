"""Which X accounts a group forwards. An account is named by its handle and resolved
through X (``XReader.user_by_username`` at forwarding priority) before anything is
written: the id X gives is what the feed follows, so a renamed account keeps its
forwarding and a handle nobody holds is refused naming the field ``username``.

X is asked outside the transaction (no row lock held while waiting on the network);
the group is then locked, the account and the forwarding upserted, the group's
``tweet_forwarding`` switch turned on and the group subscribed to forwarded posts
(``group_switches``) and the change audited, all in one transaction. Removing a group's
last forwarding turns its switch off."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import requests
import tweepy
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

import history.services as history
from community.selectors import bound_group_get, community_check
from config.errors import ServiceError
from history.services import Actor
from tenancy.models import Tenant
from xclient.models import Priority
from xclient.reader import XReader
from xfeed.models import Account, Forwarding
from xfeed.notices import EVENT_POST
from xfeed.services.group_switches import feed_switch_off_when_empty, feed_switch_on

logger = logging.getLogger(__name__)

# X's rule for handles: 1 to 15 letters, digits or underscores.
X_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,15}$")
FLAGS = ("include_reposts", "include_replies", "include_quotes")


def x_username_clean(value: str, *, field: str = "username") -> str:
    """``value`` without a leading ``@`` (and blanks), refused unless it can be an X
    handle. The error names ``field``."""
    username = (value or "").strip().removeprefix("@")
    if not X_USERNAME.match(username):
        raise ServiceError(
            f"{field}: {value!r} is not an X handle (1-15 letters, digits or underscores)",
            code="invalid_username",
        )
    return username


@dataclass(frozen=True)
class _XUser:
    id: int
    username: str
    name: str


def _x_user(tenant: Tenant, username: str) -> _XUser:
    """The account X knows as ``username``; ServiceError naming ``username`` when X knows
    none. A read the budget or the cap refuses raises its ReadRefused (429)."""
    reader = XReader(tenant=tenant, priority=Priority.FORWARDING)
    try:
        answer = reader.user_by_username(username)
    except tweepy.TooManyRequests as exc:
        raise ServiceError(
            "X is rate limiting account lookups; try again in a few minutes",
            code="x_rate_limited",
            status=429,
        ) from exc
    except tweepy.HTTPException as exc:
        logger.warning(
            "xfeed.forwarding.x_error",
            extra={"tenant": tenant.slug, "status": exc.response.status_code},
        )
        raise ServiceError(
            f"X did not answer the lookup of @{username} (HTTP {exc.response.status_code})",
            code="x_unavailable",
            status=502,
        ) from exc
    except (tweepy.TweepyException, requests.RequestException) as exc:  # X unreachable
        logger.warning("xfeed.forwarding.x_unreachable", extra={"tenant": tenant.slug})
        raise ServiceError(
            "X could not be reached to look the account up", code="x_unavailable", status=502
        ) from exc
    user = answer.data
    if user is None:
        raise ServiceError(f"username: X has no account @{username}", code="unknown_x_account")
    return _XUser(id=int(user.id), username=str(user.username), name=str(user.name or ""))


def _account_upsert(user: _XUser) -> Account:
    """The Account of X user ``user.id``, its handle and name as X gave them now."""
    account, created = Account.objects.select_for_update().get_or_create(
        x_user_id=user.id,
        defaults={
            "username": user.username,
            "name": user.name[:100],
            "resolved_at": timezone.now(),
        },
    )
    if not created:
        account.username, account.name = user.username, user.name[:100]
        account.resolved_at = timezone.now()
        account.save(update_fields=["username", "name", "resolved_at"])
    return account


def forwarding_set(
    *,
    tenant: Tenant,
    chat_id: int,
    username: str,
    include_reposts: bool = False,
    include_replies: bool = False,
    include_quotes: bool = False,
    actor: Actor,
    request: Any = None,
) -> Forwarding:
    """Forward ``username``'s posts to the bound group ``chat_id`` (originals always;
    reposts, replies and quotes as given), creating or updating the group's forwarding of
    that account; switches the group's ``tweet_forwarding`` feature on."""
    community_check(tenant)
    handle = x_username_clean(username)
    with tenant_context(tenant):
        bound_group_get(tenant=tenant, chat_id=chat_id)  # 404 before spending an X read
    user = _x_user(tenant, handle)
    flags = {
        "include_reposts": include_reposts,
        "include_replies": include_replies,
        "include_quotes": include_quotes,
    }
    with tenant_context(tenant), transaction.atomic():
        group = bound_group_get(tenant=tenant, chat_id=chat_id, for_update=True)
        account = _account_upsert(user)
        forwarding, created = Forwarding.objects.select_for_update().get_or_create(
            chat_id=chat_id, account=account, defaults=flags
        )
        before = {key: getattr(forwarding, key) for key in FLAGS}
        changed = created or not forwarding.is_active or before != flags
        if not created and changed:
            for key, value in flags.items():
                setattr(forwarding, key, value)
            forwarding.is_active = True
            forwarding.save(update_fields=[*FLAGS, "is_active", "updated_at"])
        if changed:
            history.record(
                action="xfeed.forwarding_set",
                actor=actor,
                tenant=tenant,
                target=("chat", chat_id),
                data={
                    "x_user_id": account.x_user_id,
                    "username": account.username,
                    "created": created,
                    **flags,
                },
                request=request,
            )
        feed_switch_on(
            tenant=tenant,
            group=group,
            feature="tweet_forwarding",
            event=EVENT_POST,
            actor=actor,
            request=request,
        )
    logger.info(
        "xfeed.forwarding.set",
        extra={
            "tenant": tenant.slug,
            "chat_id": chat_id,
            "x_user_id": account.x_user_id,
            "changed": changed,
        },
    )
    return forwarding


def forwarding_remove(
    *, tenant: Tenant, chat_id: int, username: str, actor: Actor, request: Any = None
) -> None:
    """Stop forwarding ``username`` (the handle the account has now, as last resolved)
    to the bound group ``chat_id``; 404 ``forwarding_not_found`` naming ``username`` when
    the group does not forward it."""
    community_check(tenant)
    handle = x_username_clean(username)
    with tenant_context(tenant), transaction.atomic():
        group = bound_group_get(tenant=tenant, chat_id=chat_id, for_update=True)
        forwarding = (
            Forwarding.objects.select_for_update()
            .select_related("account")
            .filter(chat_id=chat_id, account__username__iexact=handle)
            .first()
        )
        if forwarding is None:
            raise ServiceError(
                f"username: this group does not forward @{handle}",
                code="forwarding_not_found",
                status=404,
            )
        account = forwarding.account
        forwarding.delete()
        history.record(
            action="xfeed.forwarding_removed",
            actor=actor,
            tenant=tenant,
            target=("chat", chat_id),
            data={"x_user_id": account.x_user_id, "username": account.username},
            request=request,
        )
        feed_switch_off_when_empty(
            tenant=tenant,
            group=group,
            feature="tweet_forwarding",
            remaining=Forwarding.objects.filter(chat_id=chat_id, is_active=True).exists(),
            actor=actor,
            request=request,
        )
    logger.info(
        "xfeed.forwarding.removed",
        extra={"tenant": tenant.slug, "chat_id": chat_id, "x_user_id": account.x_user_id},
    )
