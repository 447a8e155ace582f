"""The platform's one filtered stream (X allows one connection per app): every community
reading through the platform's app has its compiled queries (``queries.tenant_queries``)
on it as rules tagged ``t<tenant id>:<key>``; each post that arrives is routed by its
``matching_rules`` tags to the communities it is for and ingested there (``via``
stream).

Communities with an app token of their own are not on the platform's stream (X bills
and limits their app, which may have a stream of its own): the worker polls them, as it
does communities whose rules no longer fit in X's 1,000 rules per app.

Threads. tweepy reads the stream on a thread of its own, which only puts what arrives
(connected, a post, a disconnect) on a queue; the worker's thread (``step``) takes it
off in order and does every database write, rule sync and backfill. tweepy reconnects
by itself with X's backoff: at once after X closed the stream cleanly, linearly after a
network error (0.25 s steps up to 16 s), exponentially after an HTTP error (5 s doubling
to 320 s; from 60 s after a 429).

Gaps and cursors. A community has a *gap* from the moment its posts may have been
missed (the worker started, the stream dropped, its rules changed) until a backfill
(``polling.tenant_poll(backfill=True)``: a search of each query from its cursor) ran
after the stream was connected again. While the stream is connected and a community
has no gap, every post of its queries since the backfill arrives on the stream, so a
stream post moves the cursor of each query it matched up to its id: a restart's
backfill then searches only what came after. During a gap the stream never moves a
cursor: the cursors stay where they were before the gap, and the backfill searches
from there (posts seen by both paths are stored and forwarded once by ingest).
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
import tweepy
from django.conf import settings
from django.db import close_old_connections
from django_tenants.utils import tenant_context

from tenancy.models import Tenant
from xclient.budget import budget_observe, budget_take
from xclient.metering import usage_allows, usage_charge, usage_guard
from xclient.models import Priority
from xclient.reader import PLATFORM_APP
from xclient.selectors import own_app_tenant_ids
from xclient.transport import x_streaming_client
from xfeed.polling import cursor_seen, tenant_poll
from xfeed.posts import READ_FIELDS, XPost, posts_from_response
from xfeed.queries import tenant_queries
from xfeed.services.ingest import posts_ingest

logger = logging.getLogger(__name__)

MAX_RULES = 1000  # X's filtered-stream rules per app
RULES_CREDENTIAL = f"app:{PLATFORM_APP}"
GET_RULES = "GET /2/tweets/search/stream/rules"
POST_RULES = "POST /2/tweets/search/stream/rules"


def rule_tag(tenant_id: int, key: str) -> str:
    return f"t{tenant_id}:{key}"


def tag_owner(tag: str) -> tuple[int, str] | None:
    """(tenant id, compiled key) of a tag ``t<tenant id>:<key>``; None for another tag."""
    head, _, key = tag.partition(":")
    if not key or not head.startswith("t") or not head[1:].isdigit():
        return None
    return int(head[1:]), key


# ---- which rules the stream should have ------------------------------------------------
@dataclass(frozen=True)
class Owner:
    tenant_id: int
    key: str


@dataclass(frozen=True)
class WantedRule:
    """One rule on X: its query and tag (its first owner's), and every (tenant, key) it
    serves. X refuses two rules with the same value, so communities compiling the same
    query share one rule, tagged by the lowest tenant id."""

    value: str
    tag: str
    owners: tuple[Owner, ...]


@dataclass
class StreamPlan:
    rules: list[WantedRule] = field(default_factory=list)
    streamed: dict[int, Tenant] = field(default_factory=dict)  # with rules on the stream
    polled: dict[int, Tenant] = field(default_factory=dict)  # own app, or past X's limit
    capped: dict[int, Tenant] = field(default_factory=dict)  # at their monthly cap: neither
    over_limit: list[str] = field(default_factory=list)  # slugs polled for X's rule limit
    refused: list[str] = field(default_factory=list)  # slugs polled: X refused a rule


def stream_communities() -> list[Tenant]:
    """Active communities (the platform's own tenant has no feed)."""
    return list(Tenant.objects.filter(status=Tenant.Status.ACTIVE).exclude(schema_name="public"))


def stream_plan(
    tenants: Iterable[Tenant] | None = None, *, refused: Collection[str] = ()
) -> StreamPlan:
    """The rules the platform's stream should have now, and who is polled instead
    (``refused``: queries X would not take as rules; their communities are polled)."""
    plan = StreamPlan()
    chosen = list(tenants) if tenants is not None else stream_communities()
    own_app = own_app_tenant_ids(chosen)
    by_value: dict[str, list[Owner]] = {}
    for tenant in chosen:
        if tenant.pk in own_app:
            plan.polled[tenant.pk] = tenant
            continue
        if not usage_allows(tenant=tenant):
            plan.capped[tenant.pk] = tenant
            continue
        with tenant_context(tenant):
            compiled = tenant_queries()
        if not compiled:
            continue  # nothing to read
        if any(c.query in refused for c in compiled):
            plan.polled[tenant.pk] = tenant
            plan.refused.append(tenant.slug)
            continue
        new = [c for c in compiled if c.query not in by_value]
        if len(by_value) + len(new) > MAX_RULES:
            plan.polled[tenant.pk] = tenant
            plan.over_limit.append(tenant.slug)
            continue
        plan.streamed[tenant.pk] = tenant
        for c in compiled:
            by_value.setdefault(c.query, []).append(Owner(tenant.pk, c.key))
    for value, owners in by_value.items():
        first = owners[0]
        plan.rules.append(WantedRule(value, rule_tag(first.tenant_id, first.key), tuple(owners)))
    return plan


# ---- talking to X ------------------------------------------------------------------------
class RulesRefused(Exception):
    """The budget says not now: the rules stay as they are until the next sync."""


class _RulesClient(tweepy.StreamingClient):
    """The stream's rule endpoints, keeping the last HTTP answer (its rate-limit headers)."""

    last: requests.Response | None = None

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        response: requests.Response = super().request(*args, **kwargs)
        self.last = response
        return response


def _counted(client: _RulesClient, endpoint: str, call: Callable[[], Any]) -> Any:
    """``call()`` through the platform app's budget for ``endpoint``."""
    slot = budget_take(credential=RULES_CREDENTIAL, endpoint=endpoint, priority=Priority.FORWARDING)
    if not slot.granted:
        raise RulesRefused(f"{endpoint}: {slot.reason} until {slot.retry_at}")
    try:
        result = call()
    except tweepy.HTTPException as exc:
        _observe(endpoint, exc.response.status_code, exc.response.headers)
        raise
    if client.last is not None:
        _observe(endpoint, client.last.status_code, client.last.headers)
    return result


def _observe(endpoint: str, status: int, headers: Any) -> None:
    budget_observe(
        credential=RULES_CREDENTIAL, endpoint=endpoint, status=status, headers=dict(headers)
    )


@dataclass(frozen=True)
class RuleSync:
    added: int
    deleted: int
    kept: int
    changed_tenants: frozenset[int]  # whose rules were added or deleted
    refused: frozenset[str] = frozenset()  # values X refused as rules (invalid)


def rules_sync(client: _RulesClient, wanted: list[WantedRule]) -> RuleSync:
    """Make X's rules exactly ``wanted`` in at most three calls: read them, delete the
    stale ones (first: it frees room under X's limit and the value of a rule whose tag
    changes), add the missing ones. A rule is the same when value and tag are."""
    response = _counted(client, GET_RULES, client.get_rules)
    current: list[tweepy.StreamRule] = list(response.data or [])
    wanted_pairs = {(w.value, w.tag): w for w in wanted}
    current_pairs = {(r.value, r.tag or ""): r for r in current}
    stale = [r for pair, r in current_pairs.items() if pair not in wanted_pairs]
    missing = [w for pair, w in wanted_pairs.items() if pair not in current_pairs]
    changed: set[int] = {o.tenant_id for w in missing for o in w.owners}
    for rule in stale:
        owner = tag_owner(rule.tag or "")
        if owner is not None:
            changed.add(owner[0])
    if stale:
        _counted(client, POST_RULES, lambda: client.delete_rules([r.id for r in stale]))
    refused: set[str] = set()
    if missing:
        refused = _add(client, missing)
    return RuleSync(
        added=len(missing) - len(refused),
        deleted=len(stale),
        kept=len(current) - len(stale),
        changed_tenants=frozenset(changed),
        refused=frozenset(refused),
    )


def _add(client: _RulesClient, missing: list[WantedRule]) -> set[str]:
    """Add ``missing``; the values X refused. X adds none of a request holding an invalid
    rule (400, each invalid value named): the others are sent once more without them."""
    add = [tweepy.StreamRule(value=w.value, tag=w.tag) for w in missing]
    try:
        _counted(client, POST_RULES, lambda: client.add_rules(add))
        return set()
    except tweepy.BadRequest as exc:
        refused = _invalid_values(exc.response)
        if not refused:
            raise
    logger.error("xfeed.stream.rules_refused", extra={"values": sorted(refused)[:10]})
    rest = [rule for rule in add if rule.value not in refused]
    if rest:
        _counted(client, POST_RULES, lambda: client.add_rules(rest))
    return refused


def _invalid_values(response: requests.Response) -> set[str]:
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return set()
    return {
        str(e["value"])
        for e in errors
        if isinstance(e, dict) and "value" in e and "invalid-rules" in str(e.get("type", ""))
    }


class _Listener(tweepy.StreamingClient):
    """tweepy's stream thread: puts what happens on ``events``, in order, and nothing
    else (the worker's thread does the work)."""

    def __init__(self, bearer_token: str, *, events: queue.Queue, **kwargs: Any) -> None:
        super().__init__(bearer_token, **kwargs)
        self.events = events
        self.response: requests.Response | None = None
        self.session.hooks["response"].append(self._keep)

    def _keep(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.response = response

    def on_connect(self) -> None:
        self.events.put(("connected", None))

    def on_response(self, response: tweepy.StreamResponse) -> None:
        self.events.put(("post", response))

    def on_closed(self, response: requests.Response) -> None:
        self.events.put(("gap", "closed by X"))

    def on_connection_error(self) -> None:
        self.events.put(("gap", "network error"))

    def on_request_error(self, status_code: int) -> None:
        self.events.put(("gap", f"HTTP {status_code}"))

    def on_errors(self, errors: list[dict]) -> None:
        logger.warning("xfeed.stream.errors", extra={"errors": errors[:10]})

    def on_exception(self, exception: Exception) -> None:
        logger.error("xfeed.stream.exception", exc_info=exception)
        self.events.put(("gap", f"exception {type(exception).__name__}"))

    def on_disconnect(self) -> None:
        self.events.put(("stopped", None))

    def hang_up(self) -> None:
        """Stop reading: tweepy checks ``running`` only between lines, so the open
        response's socket is shut too (a read blocked on it returns at once)."""
        self.disconnect()
        response = self.response
        raw = getattr(response, "raw", None)
        sock = getattr(getattr(raw, "_connection", None), "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


# ---- the worker --------------------------------------------------------------------------
@dataclass
class StreamStats:
    connects: int = 0
    gaps: int = 0
    posts: int = 0
    routed: int = 0
    backfills: int = 0
    syncs: int = 0
    polls: int = 0


RESYNC_SECONDS = 30.0  # how often the rules are compared with every community's queries
TICK_SECONDS = 5.0  # how often communities off the stream are asked to poll what is due


class StreamWorker:
    """The platform's stream with its rules kept in sync, its posts routed and ingested,
    and a backfill after every (re)connect; the communities off the stream polled.
    ``start()``, then ``step()`` repeatedly on one thread, ``stop()``."""

    def __init__(
        self,
        *,
        bearer_token: str | None = None,
        base_url: str | None = None,
        resync_seconds: float = RESYNC_SECONDS,
        tick_seconds: float = TICK_SECONDS,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        token = bearer_token or settings.X_BEARER_TOKEN
        self.resync_seconds, self.tick_seconds = resync_seconds, tick_seconds
        # The time ingest records and reads are billed and budgeted at (a benchmark's
        # simulated clock); None: the real one.
        self.clock = clock
        self.events: queue.Queue = queue.Queue()
        self.listener = x_streaming_client(
            token, client_class=_Listener, base_url=base_url, events=self.events, daemon=True
        )
        self.rules_client = x_streaming_client(token, client_class=_RulesClient, base_url=base_url)
        self.plan = StreamPlan()
        self.owners: dict[str, tuple[Owner, ...]] = {}  # tag -> who its rule serves
        self.gaps: set[int] = set()  # tenant ids whose posts may have been missed
        self.refused: set[str] = set()  # queries X refused as rules (their owners polled)
        self.connected = False
        self.resync_wanted = threading.Event()  # set from any thread: sync rules now
        self.stats = StreamStats()
        self.thread: threading.Thread | None = None
        self._next_sync = 0.0
        self._next_poll = 0.0
        self._next_backfill = 0.0  # after one cut short: not before a tick has passed

    # -- lifecycle
    def start(self) -> None:
        """Sync the rules, then connect (tweepy's thread)."""
        self.sync()
        self.thread = self.listener.filter(threaded=True, **READ_FIELDS)
        logger.info("xfeed.stream.started", extra={"rules": len(self.plan.rules)})

    def stop(self, timeout: float = 10.0) -> None:
        """Hang up and wait for tweepy's thread."""
        self.listener.hang_up()
        if self.thread is not None:
            self.thread.join(timeout)
        self.connected = False
        logger.info("xfeed.stream.stopped", extra={"alive": self.alive})

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def run(
        self,
        stop: threading.Event,
        *,
        say: Callable[[str], None] | None = None,
        progress_every: float = 60.0,
    ) -> None:
        """``start()``, ``step()`` until ``stop`` is set, ``stop()``; ``say`` gets a line at
        the start, whenever the connection's state changes, and at most every
        ``progress_every`` seconds while posts come in. A failing step (the database, X)
        is logged and the next one retries."""
        self.start()
        if say is not None:
            plan = self.plan
            say(
                f"xfeed: streaming {len(plan.rules)} rule(s) for {len(plan.streamed)} "
                f"community(ies); polling {len(plan.polled)}; Ctrl-C to stop"
            )
        said: tuple[int, ...] = (0, 0, 0, 0, 0)
        said_at = time.monotonic()
        try:
            while not stop.is_set():
                close_old_connections()
                try:
                    self.step(timeout=0.5)
                except Exception:
                    logger.exception("xfeed.step_failed")
                    stop.wait(1.0)
                    continue
                stats = self.stats
                now = (stats.connects, stats.gaps, stats.backfills, stats.posts, stats.routed)
                changed = now[:3] != said[:3] or (
                    now != said and time.monotonic() - said_at >= progress_every
                )
                if say is not None and changed:
                    said, said_at = now, time.monotonic()
                    say(
                        f"xfeed: connects {stats.connects}, gaps {stats.gaps}, backfills "
                        f"{stats.backfills}, posts {stats.posts}, routed {stats.routed}"
                    )
        finally:
            self.stop()
            close_old_connections()

    # -- one turn of the worker's loop
    def step(self, timeout: float = 0.5) -> int:
        """Handle what the stream sent (waiting up to ``timeout`` for the first event),
        then sync rules, backfill and poll when due; returns the events handled."""
        handled = 0
        wait = timeout
        while True:
            try:
                kind, value = (
                    self.events.get(timeout=wait) if wait > 0 else self.events.get_nowait()
                )
            except queue.Empty:
                break
            wait = 0
            handled += 1
            self._handle(kind, value)
        now = time.monotonic()
        if self.resync_wanted.is_set() or now >= self._next_sync:
            self.resync_wanted.clear()
            self.sync()
        if self.connected and self.gaps and now >= self._next_backfill:
            self.backfill()
        if self.plan.polled and now >= self._next_poll:
            self.poll_others()
        return handled

    def _handle(self, kind: str, value: Any) -> None:
        if kind == "connected":
            self.connected = True
            self.stats.connects += 1
            logger.info("xfeed.stream.connected", extra={"gaps": len(self.gaps)})
            self.backfill()
        elif kind == "post":
            self.route(value)
        elif kind in ("gap", "stopped"):
            if self.connected or kind == "gap":
                self.stats.gaps += 1
            self.connected = False
            self.gaps.update(self.plan.streamed)
            logger.warning("xfeed.stream.gap", extra={"reason": value or "stopped"})

    # -- rules
    def sync(self) -> RuleSync | None:
        """Bring X's rules in line with every community's queries; a community whose
        rules changed has a gap (a replaced rule is briefly off X) until its backfill."""
        self._next_sync = time.monotonic() + self.resync_seconds
        plan = stream_plan(refused=self.refused)
        try:
            result = rules_sync(self.rules_client, plan.rules)
        except (RulesRefused, tweepy.TweepyException, requests.RequestException) as exc:
            logger.warning("xfeed.stream.sync_failed", extra={"error": str(exc)})
            return None
        if result.refused:
            # Their communities are polled from now on; the next step plans again and
            # deletes what of theirs was added.
            self.refused |= result.refused
            for rule in plan.rules:
                if rule.value in result.refused:
                    for owner in rule.owners:
                        tenant = plan.streamed.pop(owner.tenant_id, None)
                        if tenant is not None:
                            plan.polled[owner.tenant_id] = tenant
                            plan.refused.append(tenant.slug)
            self.resync_wanted.set()
        joined = set(plan.streamed) - set(self.plan.streamed)
        self.gaps |= (result.changed_tenants | joined) & set(plan.streamed)
        self.gaps &= set(plan.streamed)  # who left the stream is polled instead
        self.plan = plan
        self.owners = {rule.tag: rule.owners for rule in plan.rules}
        self.stats.syncs += 1
        if result.added or result.deleted:
            logger.info(
                "xfeed.stream.rules_synced",
                extra={
                    "added": result.added,
                    "deleted": result.deleted,
                    "kept": result.kept,
                    "over_limit": plan.over_limit,
                },
            )
        return result

    # -- posts
    def route(self, response: tweepy.StreamResponse) -> int:
        """Ingest a stream post in every community one of its rules serves; move the
        cursors of those without a gap. Returns in how many communities."""
        self.stats.posts += 1
        posts = posts_from_response(response)
        if not posts:
            return 0
        keys: dict[int, set[str]] = {}
        for rule in response.matching_rules or []:
            tag = str(getattr(rule, "tag", "") or "")
            owners = self.owners.get(tag)
            if owners is None:  # a rule this worker did not plan: trust its tag
                owner = tag_owner(tag)
                owners = (Owner(*owner),) if owner is not None else ()
            for o in owners:
                keys.setdefault(o.tenant_id, set()).add(o.key)
        users = len((response.includes or {}).get("users", []))
        routed = 0
        for tenant_id, tenant_keys in sorted(keys.items()):
            tenant = self.plan.streamed.get(tenant_id)
            if tenant is None:
                logger.info("xfeed.stream.unrouted", extra={"tenant_id": tenant_id})
                continue
            if not self._charge(tenant, posts, users):
                # Its cap has no room for this post: reads pause, nothing is billed. The
                # gap makes the backfill (once the cap allows) search from before it.
                self.gaps.add(tenant_id)
                logger.info("xfeed.stream.capped", extra={"tenant": tenant.slug})
                continue
            self._ingest(tenant, posts, tenant_keys)
            routed += 1
        self.stats.routed += routed
        return routed

    def _charge(self, tenant: Tenant, posts: list[XPost], users: int) -> bool:
        """Bill ``tenant`` for a post the stream delivered (X bills the platform's app,
        once a post a day) if its cap has room for it; False, billing nothing, if not."""
        with usage_guard(tenant=tenant, now=self._now()) as room:
            charged = usage_charge(
                tenant=tenant,
                app=PLATFORM_APP,
                post_ids=[p.post_id for p in posts],
                user_reads=users,
                now=self._now(),
                room=room,
            )
        return not charged.refused

    def _ingest(self, tenant: Tenant, posts: list[XPost], keys: set[str]) -> None:
        with tenant_context(tenant):
            posts_ingest(tenant=tenant, posts=posts, via="stream", now=self._now())
            if tenant.pk not in self.gaps:
                newest = max(p.post_id for p in posts)
                for key in sorted(keys):
                    cursor_seen(tenant=tenant, key=key, post_id=newest)
        logger.info(
            "xfeed.stream.post",
            extra={"tenant": tenant.slug, "post_id": posts[0].post_id, "keys": sorted(keys)},
        )

    def _now(self) -> datetime | None:
        return self.clock() if self.clock is not None else None

    # -- backfill and polling
    def backfill(self) -> None:
        """Search each community with a gap from its cursors; a community whose backfill
        X's budget or its cap cut short keeps its gap (tried again a tick later)."""
        if not self.gaps:
            return
        for tenant_id in sorted(self.gaps):
            tenant = self.plan.streamed.get(tenant_id)
            if tenant is None:
                self.gaps.discard(tenant_id)
                continue
            result = tenant_poll(tenant=tenant, backfill=True, now=self._now())
            self.stats.backfills += 1
            if _complete(result):
                self.gaps.discard(tenant_id)
            else:  # refused or failed: the budget's own retry time may be far; ask again soon
                self._next_backfill = time.monotonic() + self.tick_seconds
            logger.info(
                "xfeed.stream.backfill",
                extra={"tenant": tenant.slug, "complete": tenant_id not in self.gaps},
            )

    def poll_others(self) -> None:
        """Poll what is due of the communities off the platform's stream (``tenant_poll``
        knows each query's interval)."""
        self._next_poll = time.monotonic() + self.tick_seconds
        for tenant in self.plan.polled.values():
            tenant_poll(tenant=tenant, now=self._now())
            self.stats.polls += 1


def _complete(result: Any) -> bool:
    """Whether a poll round searched everything it meant to: neither refused (the
    budget, the cap) nor ended by X's errors."""
    return not getattr(result, "refused", "") and not getattr(result, "errors", [])
