"""Helpers for the X feed tests: ``Feed``, a community with a bound group on the sandbox
Telegram and the sandbox X it reads (follow an account, add a mention rule, read what was
queued for the group), and ``aged``: sandbox X accounts made days before they post, as
real accounts are (brand-new ones are spam to the mention filter). For the KOL tests:
``kol_add`` (a KOL through the service), ``clock_now`` and ``calls_to``."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django_tenants.utils import tenant_context

from community.services import group_settings_update
from history.services import Actor
from notifications.models import OutboxMessage
from notifications.services.subscriptions import subscriptions_write
from sandbox.x import ManualClock, SandboxX
from tests.botruntime.helpers import bound_group
from tests.helpers import bot_id_of, on_sandbox
from xclient.transport import x_client
from xfeed.models import Account, Forwarding, Kol, MentionRule
from xfeed.posts import READ_FIELDS, XPost, posts_from_response
from xfeed.services.kols import kol_set

APP_TOKEN = "xfeed-fetch-app"
KOL_APP_TOKEN = "xfeed-kol-app"
PLATFORM_APP_TOKEN = "xfeed-platform-app"  # the app of the stream and the shared poller
_people = itertools.count(1)


def sim_now(x: SandboxX) -> datetime:
    """The sandbox X's clock as the platform's ``now``."""
    return datetime.fromtimestamp(x.clock(), UTC)


def aged(x: SandboxX, *usernames: str, days: int = 30) -> list[dict]:
    """Accounts made ``days`` ago on the sandbox's clock."""
    accounts = [x.add_account(name) for name in usernames]
    x.advance(days * 86400)
    return accounts


@dataclass
class Feed:
    tenant: Any
    chat_id: int
    x: SandboxX
    tg: Any

    def follow(self, account: dict, chat_id: int | None = None, **include: bool) -> Forwarding:
        with tenant_context(self.tenant):
            followed, _ = Account.objects.get_or_create(
                x_user_id=int(account["id"]),
                defaults={"username": account["username"], "resolved_at": sim_now(self.x)},
            )
            return Forwarding.objects.create(
                chat_id=chat_id or self.chat_id, account=followed, **include
            )

    def rule(self, name: str, chat_id: int | None = None, **terms: Any) -> MentionRule:
        with tenant_context(self.tenant):
            return MentionRule.objects.create(chat_id=chat_id or self.chat_id, name=name, **terms)

    def queued(self, event: str, chat_id: int | None = None) -> list[OutboxMessage]:
        return list(
            OutboxMessage.objects.filter(
                tenant=self.tenant, event=event, chat_id=chat_id or self.chat_id
            ).order_by("id")
        )

    def group(self, title: str = "More fans", features: tuple[str, ...] = ()) -> int:
        """Another bound group of the community."""
        return _group(self.tenant, self.tg, title, features)


def _group(tenant: Any, tg: Any, title: str, features: tuple[str, ...]) -> int:
    creator = tg.add_user(7_100_000 + next(_people), "Cleo", username="cleo")["id"]
    chat_id = bound_group(tg, tenant, bot_id_of(tenant), creator, title)
    if features:
        group_settings_update(
            tenant=tenant,
            chat_id=chat_id,
            actor=Actor.system(),
            features={name: True for name in features},
        )
    if "mentions" in features:  # a group opts in to mentions (as setting a rule does)
        subscriptions_write(tenant=tenant, chat_id=chat_id, changes={"mention.found": True})
    return chat_id


def make_feed(
    tenant: Any,
    tg: Any,
    x: SandboxX,
    *,
    features: tuple[str, ...] = ("tweet_forwarding", "mentions"),
) -> Feed:
    on_sandbox(tg, tenant)
    chat_id = _group(tenant, tg, "Fans", features)
    return Feed(tenant=tenant, chat_id=chat_id, x=x, tg=tg)


def fetch(x: SandboxX, query: str) -> list[XPost]:
    """What a search of the sandbox X returns, as the feed reads it (tweepy, READ_FIELDS)."""
    client = x_client(base_url=x.base_url, bearer_token=APP_TOKEN)
    return posts_from_response(client.search_recent_tweets(query, max_results=100, **READ_FIELDS))


def clock_now(clock: ManualClock) -> datetime:
    return datetime.fromtimestamp(clock.now, UTC)


def kol_add(tenant: Any, username: str, **fields: Any) -> Kol:
    """A KOL through the service (the account must exist on the sandbox X)."""
    values: dict[str, Any] = {
        "tier": "micro",
        "rate_amount": 100_000_000,
        "rate_currency": "USDT",
        "billing": "per_post",
        "campaigns": [],
        **fields,
    }
    kol, _ = kol_set(tenant=tenant, username=username, actor=Actor.system(), **values)
    return kol


def calls_to(x: SandboxX, path: str) -> list[dict[str, Any]]:
    return [c for c in x.calls() if c["path"] == path]
