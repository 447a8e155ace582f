"""The shared poller (``XFEED_MODE=poll``): one set of search queries for every community
reading through the platform's app, as the stream has one set of rules, instead of each
community searching its own (100 communities x 2 queries a round, ~1 post a search).

- **Plan** (``shared_plan``): active communities with no app credential of their own and
  room under their cap for one more post (the stream's selection: ``stream_plan``).
  Their followed accounts, deduplicated, are packed into shared ``from:`` queries, and
  their rules' clauses (one clause however many rules share it) into shared mention
  queries, within ``X_QUERY_MAX_LENGTH``. Order: each account (clause) by the first
  time any community added it, so a new one joins the last query and changes nothing
  else. A clause that alone does not fit is left out (logged): one community's rule
  cannot stop the others' round. Communities with their own app are polled by
  ``tenant_poll`` (``platform_poll``); capped ones are not read at all.
- **Cursors**: each community keeps a ``Cursor`` per shared query it is in, keyed by the
  query's key, ``members`` its own accounts and rules in it, so ``cursors_sync`` resumes
  a new query from the old cursors of its members (packing changed, or the deployment
  switched from per-community polling or the stream). A shared query searches from the
  oldest ``since_id`` of its communities; each community takes only posts newer than
  its own, and one whose cursor has none yet forwards nothing created before the
  cursor minus ``FIRST_POLL_GRACE``. The cursors move after the query's last page.
- **Routing and billing**: a post goes to the communities following its author (forward
  queries) or whose rule ``rule_matches`` it (mention queries), where ``posts_ingest``
  stores it once. Each community pays (``usage_charge`` under ``usage_guard``, as the
  stream's ``_charge``) for the posts new to it; a post that matched a community's
  clause (``clause_matches``) but none of its rules (language, followers) is billed to
  it too, unstored: it caused the read. A charge the cap has no room for is retried post
  by post; at the first refusal the community gets nothing more this round and its
  cursors stay, so once the cap allows, it resumes where it stopped.
- **Cadence**: a shared query is due when one of its cursors is; after a search every
  cursor of it gets the same interval, ``next_interval`` aiming at ``TARGET_PER_CALL``
  posts a request (more than ``tenant_poll``'s: not every post a query returns is
  forwarded). A query's first search (newest page only) sets the interval from the rate
  that page shows. Latency trades for requests: docs/architecture.md has the formula.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import F, Min, Q
from django.db.models.functions import Greatest
from django_tenants.utils import tenant_context

from config.errors import ServiceError
from tenancy.models import Tenant
from xclient.metering import prices, usage_charge, usage_guard, usage_room
from xclient.models import Priority
from xclient.reader import PLATFORM_APP, PlatformReader
from xclient.selectors import own_app_tenant_ids
from xfeed.conf import poll_max_seconds, poll_seconds
from xfeed.models import Account, Cursor, MentionRule, Post
from xfeed.polling import (
    FIRST_POLL_GRACE,
    MAX_PAGES,
    PAGE_SIZE,
    PollResult,
    cursor_due,
    cursors_sync,
    next_interval,
    search_counted,
    tenant_poll,
)
from xfeed.posts import READ_FIELDS, XPost, posts_from_response
from xfeed.queries import (
    FORWARD,
    MENTION,
    Compiled,
    clause_matches,
    pack_accounts,
    pack_clauses,
    query_key,
    rule_clause,
    rule_matches,
)
from xfeed.services.ingest import Ingested, posts_ingest

if TYPE_CHECKING:
    from collections.abc import Iterable

logger = logging.getLogger(__name__)

# The goal is under 0.05 requests per forwarded post, and a shared query returns posts
# that are not forwarded (mentions, kinds a group leaves out: about half in the
# benchmark), so it aims at 50 posts a request: half a page, a burst of twice the rate
# still fits one request.
TARGET_PER_CALL = 50


@dataclass(frozen=True)
class Share:
    """One community's part of a shared query: the query's key and text with its own
    members (``Compiled``: what its cursor records), and its rules in it."""

    tenant: Tenant
    compiled: Compiled
    rules: tuple[MentionRule, ...] = ()


@dataclass
class SharedQuery:
    key: str
    query: str
    purpose: str  # FORWARD or MENTION
    shares: list[Share] = field(default_factory=list)


@dataclass
class SharedPlan:
    queries: list[SharedQuery] = field(default_factory=list)
    shared: dict[int, Tenant] = field(default_factory=dict)  # read by the shared queries
    own_app: dict[int, Tenant] = field(default_factory=dict)  # polled with their own app
    capped: dict[int, Tenant] = field(default_factory=dict)  # no room for one more post


@dataclass
class SharedResult(PollResult):
    """One shared round (``PollResult``'s counts for the whole platform); ``billed_only``:
    (community, post) pairs billed without being stored (a clause matched, no rule
    took the post); ``unclaimed``: posts no community's accounts or clauses account for
    (the platform's); ``capped``: slugs whose cap stopped their part this round."""

    billed_only: int = 0
    unclaimed: int = 0
    capped: list[str] = field(default_factory=list)
    plan: SharedPlan = field(default_factory=SharedPlan)


def platform_communities() -> list[Tenant]:
    """Active communities (the platform's own tenant has no feed), in id order."""
    return list(
        Tenant.objects.filter(status=Tenant.Status.ACTIVE)
        .exclude(schema_name="public")
        .order_by("pk")
    )


def _has_room(tenant: Tenant, now: datetime) -> bool:
    """Whether the cap still pays for a post and its author: below that the community
    would only drag its queries back to its cursor for nothing."""
    room = usage_room(tenant=tenant, now=now)
    rate = prices()
    return room is None or room >= rate["post_read"] + rate["user_read"]


def shared_plan(
    tenants: Iterable[Tenant] | None = None, *, now: datetime | None = None
) -> SharedPlan:
    """Who the shared queries read for, and the queries (forwarding first)."""
    now = now or datetime.now(UTC)
    plan = SharedPlan()
    chosen = list(tenants) if tenants is not None else platform_communities()
    own_app = own_app_tenant_ids(chosen)
    first_seen: dict[int, tuple[datetime, int]] = {}  # account -> (first added, order)
    followers: dict[int, list[Tenant]] = defaultdict(list)
    clause_seen: dict[str, datetime] = {}
    clause_rules: dict[str, dict[int, list[MentionRule]]] = defaultdict(dict)
    for tenant in chosen:
        if tenant.pk in own_app:
            plan.own_app[tenant.pk] = tenant
            continue
        if not _has_room(tenant, now):
            plan.capped[tenant.pk] = tenant
            continue
        plan.shared[tenant.pk] = tenant
        active = Q(forwardings__is_active=True)
        with tenant_context(tenant):
            accounts = list(
                Account.objects.filter(active)
                .annotate(since=Min("forwardings__created_at", filter=active))
                .values_list("x_user_id", "since")
            )
            rules = list(MentionRule.objects.filter(is_active=True).order_by("id"))
        for x_user_id, since in accounts:
            if x_user_id not in first_seen or since < first_seen[x_user_id][0]:
                first_seen[x_user_id] = (since, x_user_id)
            followers[x_user_id].append(tenant)
        for rule in rules:
            try:
                clause = rule_clause(rule)
            except ServiceError:  # saved before a limit changed: it alone does not fit
                logger.warning("xfeed.shared.rule_skipped", extra={"tenant": tenant.slug})
                continue
            if clause not in clause_seen or rule.created_at < clause_seen[clause]:
                clause_seen[clause] = rule.created_at
            clause_rules[clause].setdefault(tenant.pk, []).append(rule)
    ordered = sorted(first_seen, key=lambda a: first_seen[a])
    for query, ids in pack_accounts(ordered):
        shared = SharedQuery(query_key(FORWARD, query), query, FORWARD)
        mine: dict[int, list[int]] = defaultdict(list)
        for x_user_id in ids:
            for tenant in followers[x_user_id]:
                mine[tenant.pk].append(x_user_id)
        for tenant_id, own in sorted(mine.items()):
            compiled = Compiled(shared.key, query, FORWARD, (), tuple(own))
            shared.shares.append(Share(plan.shared[tenant_id], compiled))
        plan.queries.append(shared)
    clauses = sorted(clause_seen, key=lambda c: (clause_seen[c], c))
    for query, held in pack_clauses(clauses):
        shared = SharedQuery(query_key(MENTION, query), query, MENTION)
        by_tenant: dict[int, list[MentionRule]] = defaultdict(list)
        for clause in held:
            for tenant_id, tenant_rules in clause_rules[clause].items():
                by_tenant[tenant_id] += tenant_rules
        for tenant_id, tenant_rules in sorted(by_tenant.items()):
            ids = tuple(sorted(r.pk for r in tenant_rules))
            compiled = Compiled(shared.key, query, MENTION, ids, ())
            shared.shares.append(Share(plan.shared[tenant_id], compiled, tuple(tenant_rules)))
        plan.queries.append(shared)
    return plan


def first_interval(*, posts: list[XPost], now: datetime) -> int:
    """A query's first search reads its newest page: the rate that page shows (its posts
    over the time since the oldest; none: quiet) sets the interval at once."""
    low, high = poll_seconds(), poll_max_seconds()
    if not posts:
        return high
    span = max((now - min(p.created_at for p in posts)).total_seconds(), 1.0)
    return int(min(max(span * TARGET_PER_CALL / len(posts), low), high))


@dataclass
class _Search:
    """One shared query being searched: its cursors by community, and who its cap
    stopped."""

    query: SharedQuery
    cursors: dict[int, Cursor]
    stopped: set[int] = field(default_factory=set)

    def since(self, tenant_id: int) -> int:
        return self.cursors[tenant_id].since_id or 0

    def forward_after(self, tenant_id: int) -> datetime | None:
        cursor = self.cursors[tenant_id]
        if cursor.since_id is None and cursor.created_at is not None:
            return cursor.created_at - FIRST_POLL_GRACE
        return None


def _charge(tenant: Tenant, posts: list[XPost], now: datetime) -> bool:
    """Bill ``tenant`` for ``posts`` and their authors read through the platform's app,
    if its cap has room for all of them; False, billing nothing, if not."""
    with usage_guard(tenant=tenant, now=now) as room:
        charged = usage_charge(
            tenant=tenant,
            app=PLATFORM_APP,
            post_ids=[p.post_id for p in posts],
            user_reads=len({p.author_id for p in posts}),
            now=now,
            room=room,
        )
    return not charged.refused


def _claims(search: _Search, post: XPost) -> tuple[list[Share], list[Share], bool]:
    """(communities the post is for, communities that only caused it, whether any
    community's accounts or clauses account for it at all): followers of its author, or
    whose rule takes it / whose clause X matched; a community already past the post, or
    stopped by its cap, gets nothing."""
    takes, caused, claimed = [], [], False
    for share in search.query.shares:
        if search.query.purpose == FORWARD:
            taking, causing = post.author_id in share.compiled.account_ids, False
        else:
            taking = any(rule_matches(rule, post) for rule in share.rules)
            causing = not taking and any(clause_matches(rule, post) for rule in share.rules)
        claimed = claimed or taking or causing
        tenant_id = share.tenant.pk
        if tenant_id in search.stopped or post.post_id <= search.since(tenant_id):
            continue  # handled for it already (or its cap stopped it)
        if taking:
            takes.append(share)
        elif causing:
            caused.append(share)
    return takes, caused, claimed


def _deliver(search: _Search, posts: list[XPost], now: datetime, result: SharedResult) -> None:
    """Route one page: bill each community for its part, then ingest what it takes."""
    takes: dict[int, list[XPost]] = defaultdict(list)
    caused: dict[int, list[XPost]] = defaultdict(list)
    tenants: dict[int, Tenant] = {}
    for post in posts:
        taking, causing, claimed = _claims(search, post)
        result.unclaimed += not claimed
        for share in taking:
            takes[share.tenant.pk].append(post)
            tenants[share.tenant.pk] = share.tenant
        for share in causing:
            caused[share.tenant.pk].append(post)
            tenants[share.tenant.pk] = share.tenant
    for tenant_id, tenant in sorted(tenants.items()):
        wanted = takes.get(tenant_id, [])
        with tenant_context(tenant):
            have = set(
                Post.objects.filter(post_id__in=[p.post_id for p in wanted]).values_list(
                    "post_id", flat=True
                )
            )
        fresh = [p for p in wanted if p.post_id not in have]
        billed_only = caused.get(tenant_id, [])
        bill = sorted(fresh + billed_only, key=lambda p: p.post_id)
        if bill and not _charge(tenant, bill, now):
            paid = set()
            for post in bill:  # oldest first, as far as the cap goes
                if not _charge(tenant, [post], now):
                    break
                paid.add(post.post_id)
            search.stopped.add(tenant_id)
            result.capped.append(tenant.slug)
            logger.info("xfeed.shared.capped", extra={"tenant": tenant.slug})
            fresh = [p for p in fresh if p.post_id in paid]
            billed_only = [p for p in billed_only if p.post_id in paid]
        result.billed_only += len(billed_only)
        if fresh:
            result.ingested += posts_ingest(
                tenant=tenant,
                posts=fresh,
                via=Post.Via.POLL,
                now=now,
                forward_after=search.forward_after(tenant_id),
            )


def _search(search: _Search, reader: PlatformReader, now: datetime, result: SharedResult) -> None:
    """Search a shared query from its oldest cursor (every page, or the newest only the
    first time), route each page, then move its cursors. ReadRefused and X's errors
    propagate with the cursors where they were."""
    cursors = list(search.cursors.values())
    first = all(c.polled_at is None for c in cursors)
    since = [c.since_id for c in cursors if c.since_id is not None]
    # A searched cursor with nothing yet (its cap stopped it before it took any post)
    # needs everything there is; a new one (not searched) only what its peers need.
    unplaced = any(c.since_id is None and c.polled_at is not None for c in cursors)
    params: dict[str, object] = {"max_results": PAGE_SIZE, **READ_FIELDS}
    if since and not unplaced:
        params["since_id"] = min(since)
    newest, returned, calls, token = 0, 0, 0, None
    seen: list[XPost] = []
    while True:
        page = reader.search_recent(
            search.query.query, now=now, **params, **({"next_token": token} if token else {})
        )
        calls += 1
        result.calls += 1
        posts = posts_from_response(page)
        returned += len(posts)
        seen += posts if first else []
        newest = max([newest, *(p.post_id for p in posts)])
        _deliver(search, posts, now, result)
        token = (page.meta or {}).get("next_token")
        if first or not token:
            break
        if calls >= MAX_PAGES:
            logger.warning(
                "xfeed.shared.truncated", extra={"query": search.query.key, "pages": calls}
            )
            break
    if first:
        interval = first_interval(posts=seen, now=now)
    else:
        polled = [c.polled_at for c in cursors if c.polled_at is not None]
        interval = next_interval(
            current=max(c.interval_s for c in cursors),
            elapsed=(now - min(polled)).total_seconds() if polled else 0.0,
            returned=returned,
            target=TARGET_PER_CALL,
        )
    for share in search.query.shares:
        tenant_id = share.tenant.pk
        moves = bool(newest) and tenant_id not in search.stopped
        with tenant_context(share.tenant):
            # GREATEST: a concurrent round never moves it back (NULL: a first search sets it).
            Cursor.objects.filter(pk=search.cursors[tenant_id].pk).update(
                since_id=Greatest(F("since_id"), newest) if moves else F("since_id"),
                polled_at=now,
                interval_s=interval,
            )


def shared_poll(
    *, now: datetime | None = None, tenants: Iterable[Tenant] | None = None
) -> SharedResult:
    """One round of the shared queries that are due (forwarding before mentions); the
    plan (who is shared, own-app, capped) in the result."""
    now = now or datetime.now(UTC)
    plan = shared_plan(tenants, now=now)
    result = SharedResult(plan=plan)
    cursors: dict[str, dict[int, Cursor]] = defaultdict(dict)
    for tenant in plan.shared.values():
        mine = [s.compiled for q in plan.queries for s in q.shares if s.tenant.pk == tenant.pk]
        with tenant_context(tenant):
            for key, cursor in cursors_sync(mine, now).items():
                cursors[key][tenant.pk] = cursor
    due = [q for q in plan.queries if any(cursor_due(c, now) for c in cursors[q.key].values())]
    if due and not settings.X_BEARER_TOKEN:
        result.refused = "x_not_configured"
        due = []
    readers = {p: PlatformReader(priority=p) for p in (Priority.FORWARDING, Priority.MENTIONS)}
    for query in due:
        reader = readers[Priority.FORWARDING if query.purpose == FORWARD else Priority.MENTIONS]
        search = functools.partial(_search, _Search(query, cursors[query.key]), reader, now, result)
        if not search_counted(result, query.key, search):
            break
    logger.info(
        "xfeed.shared_poll",
        extra={
            "queries": len(plan.queries),
            "communities": len(plan.shared),
            "searched": result.searched,
            "calls": result.calls,
            "forwarded": result.ingested.forwarded,
            "mentioned": result.ingested.mentioned,
            "billed_only": result.billed_only,
            "capped": result.capped,
            "refused": result.refused,
            "errors": len(result.errors),
        },
    )
    return result


@dataclass
class PlatformPollResult:
    """A poll-mode round of the platform: the shared queries, then each community with
    its own app (``tenant_poll``), by slug."""

    shared: SharedResult
    own: dict[str, PollResult] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        return self.shared.calls + sum(r.calls for r in self.own.values())

    @property
    def ingested(self) -> Ingested:
        total = self.shared.ingested
        for own in self.own.values():
            total += own.ingested
        return total


def platform_poll(*, now: datetime | None = None) -> PlatformPollResult:
    """Everything ``XFEED_MODE=poll`` reads in one round: the shared queries, and the
    communities with their own X app each on its own. One community's failure does not
    stop the others."""
    shared = shared_poll(now=now)
    result = PlatformPollResult(shared)
    for tenant in shared.plan.own_app.values():
        try:
            result.own[tenant.slug] = tenant_poll(tenant=tenant, now=now)
        except Exception:  # logged; the next round tries again
            logger.exception("xfeed.poll_failed", extra={"tenant": tenant.slug})
    return result
