"""Anti-fraud checks of a raid's participants, and the reads behind them and the review
queue. The checks are pure functions of plain rows (``Who``, ``LinkRow``, ``Reply``,
``Completion``), so each is tested on its own; ``scan_inputs`` reads what a raid's scan
needs in a few queries (one per table, whatever the raid's size) and ``hits_of`` runs
every check. The writer (flags, exclusions, decisions, the blocklist) is
``raids.services.fraud``. What each signal means, its threshold and what the platform
cannot detect: docs/architecture.md, "Raids: anti-fraud".

Evidence contract (``Result.evidence`` written by validation): a reply's or a quote's
evidence has ``"text"`` (the post's text as X returned it) and ``"post_id"`` (its X id,
a string or an int); ``"created_at"`` (ISO 8601, X's time of the post) is used when
present. Other evidence keys are ignored here."""

from __future__ import annotations

import random
import re
import unicodedata
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime

from config.errors import ServiceError
from raids.models import Blocked, Flag, Participant, Raid, Result, Task
from tenancy.models import Tenant
from tenancy.selectors import community_check
from wallet.selectors import withdrawal_destinations
from xclient.selectors import link_history_of

X_SHARED = "x_shared"
X_RELINKED = "x_relinked"
ACCOUNT_YOUNG = "account_young"
ACCOUNT_SMALL = "account_small"
REPLY_DUPLICATE = "reply_duplicate"
BURST = "burst"
BLOCKED = "blocked"
MULTI_ACCOUNT = "multi_account"
REASONS = (
    X_SHARED,
    X_RELINKED,
    ACCOUNT_YOUNG,
    ACCOUNT_SMALL,
    REPLY_DUPLICATE,
    BURST,
    BLOCKED,
    MULTI_ACCOUNT,
)
# Signals read from xclient's link history, the same for every community (the history is
# the platform's); the others are this community's own data.
PLATFORM_WIDE = frozenset({X_SHARED, X_RELINKED, MULTI_ACCOUNT})
DETAIL_MAX = 300  # Flag.detail


@dataclass(frozen=True)
class Thresholds:
    young_days: int
    small_followers: int  # 0: the check is off
    relinked_accounts: int
    duplicate_similarity: float
    burst_seconds: int
    burst_min: int
    burst_fresh_days: int

    @classmethod
    def from_settings(cls) -> Thresholds:
        return cls(
            young_days=settings.RAIDS_FRAUD_YOUNG_DAYS,
            small_followers=settings.RAIDS_FRAUD_SMALL_FOLLOWERS,
            relinked_accounts=settings.RAIDS_FRAUD_RELINKED_ACCOUNTS,
            duplicate_similarity=settings.RAIDS_FRAUD_DUPLICATE_SIMILARITY,
            burst_seconds=settings.RAIDS_FRAUD_BURST_SECONDS,
            burst_min=settings.RAIDS_FRAUD_BURST_MIN,
            burst_fresh_days=settings.RAIDS_FRAUD_BURST_FRESH_DAYS,
        )


@dataclass(frozen=True)
class Who:
    """A participant: their Telegram id and the X account they joined with."""

    user_id: int
    x_user_id: int
    x_username: str


@dataclass(frozen=True)
class LinkRow:
    """One xclient link, unlinked or not, as X confirmed it."""

    user_id: int  # Telegram id
    x_user_id: int
    username: str
    x_created_at: datetime | None
    followers: int
    linked_at: datetime
    unlinked_at: datetime | None


@dataclass(frozen=True)
class Reply:
    user_id: int
    post_id: int | None
    text: str


@dataclass(frozen=True)
class Completion:
    user_id: int
    at: datetime


@dataclass(frozen=True)
class Hit:
    """A flag to raise: who, why, and what an admin reads."""

    user_id: int
    x_user_id: int | None
    reason: str
    detail: str


@dataclass(frozen=True)
class ScanInputs:
    participants: list[Who]
    links: list[LinkRow]
    replies: list[Reply]
    completions: list[Completion]
    blocked_users: frozenset[int]
    blocked_x: frozenset[int]
    destinations: dict[int, set[str]]  # Telegram id -> withdrawal destinations here


def _hit(who: Who, reason: str, detail: str) -> Hit:
    if len(detail) > DETAIL_MAX:
        detail = detail[: DETAIL_MAX - 3] + "..."
    return Hit(user_id=who.user_id, x_user_id=who.x_user_id, reason=reason, detail=detail)


# ---- blocklist ---------------------------------------------------------------------------
def check_blocked(
    participants: Iterable[Who], *, users: frozenset[int], x_accounts: frozenset[int]
) -> list[Hit]:
    hits = []
    for who in participants:
        if who.user_id in users:
            hits.append(_hit(who, BLOCKED, "this Telegram account is on the blocklist"))
        elif who.x_user_id in x_accounts:
            hits.append(_hit(who, BLOCKED, f"X account @{who.x_username} is on the blocklist"))
    return hits


# ---- link history: shared, relinked, one person behind several accounts ---------------
def check_links(participants: Iterable[Who], links: list[LinkRow], th: Thresholds) -> list[Hit]:
    """``x_shared``: the participant's X account was linked to another Telegram user at
    some time (the other user is not named: they may belong to another community).
    ``x_relinked``: the participant's Telegram user linked ``relinked_accounts`` or more
    distinct X accounts over time."""
    users_of_x: dict[int, set[int]] = defaultdict(set)
    x_of_user: dict[int, dict[int, str]] = defaultdict(dict)
    for link in links:
        users_of_x[link.x_user_id].add(link.user_id)
        x_of_user[link.user_id][link.x_user_id] = link.username
    hits = []
    for who in participants:
        others = users_of_x[who.x_user_id] - {who.user_id}
        if others:
            hits.append(
                _hit(
                    who,
                    X_SHARED,
                    f"X account @{who.x_username} was linked to {len(others)} other Telegram "
                    "account(s) before",
                )
            )
        accounts = x_of_user[who.user_id]
        if th.relinked_accounts > 1 and len(accounts) >= th.relinked_accounts:
            names = ", ".join(f"@{name}" for name in sorted(accounts.values()))
            hits.append(
                _hit(who, X_RELINKED, f"linked {len(accounts)} X accounts over time: {names}")
            )
    return hits


def check_multi_account(
    participants: Iterable[Who], links: list[LinkRow], destinations: dict[int, set[str]]
) -> list[Hit]:
    """Participants of one raid who look like one person: their Telegram users linked the
    same X account at some time, or asked for withdrawals to the same destination. Every
    participant in such a group is flagged, naming the others (they are this raid's)."""
    people = {who.user_id: who for who in participants}
    parent = {user_id: user_id for user_id in people}
    why: dict[int, set[str]] = defaultdict(set)

    def find(user_id: int) -> int:
        while parent[user_id] != user_id:
            parent[user_id] = parent[parent[user_id]]
            user_id = parent[user_id]
        return user_id

    def join(members: set[int], signal: str) -> None:
        members &= people.keys()
        if len(members) < 2:
            return
        first, *rest = sorted(members)
        for other in rest:
            parent[find(other)] = find(first)
        for member in members:
            why[member].add(signal)

    users_of_x: dict[int, set[int]] = defaultdict(set)
    for link in links:
        users_of_x[link.x_user_id].add(link.user_id)
    for users in users_of_x.values():
        join(set(users), "an X account linked to each of them")
    users_of_destination: dict[str, set[int]] = defaultdict(set)
    for user_id, found in destinations.items():
        for destination in found:
            users_of_destination[destination].add(user_id)
    for users in users_of_destination.values():
        join(set(users), "the same withdrawal destination")
    groups: dict[int, list[int]] = defaultdict(list)
    for user_id in people:
        groups[find(user_id)].append(user_id)
    hits = []
    for members in groups.values():
        if len(members) < 2:
            continue
        for user_id in members:
            others = ", ".join(str(other) for other in sorted(members) if other != user_id)
            signals = " and ".join(sorted(why[user_id]))
            hits.append(
                _hit(
                    people[user_id],
                    MULTI_ACCOUNT,
                    f"likely the same person as participant(s) {others}: {signals}",
                )
            )
    return hits


# ---- X account age and size ----------------------------------------------------------------
def accounts_of(links: list[LinkRow]) -> dict[tuple[int, int], LinkRow]:
    """Each (Telegram id, X id) pair's newest link: what a participant joined with."""
    found: dict[tuple[int, int], LinkRow] = {}
    for link in links:
        key = (link.user_id, link.x_user_id)
        if key not in found or link.linked_at >= found[key].linked_at:
            found[key] = link
    return found


def check_accounts(
    participants: Iterable[Who], links: list[LinkRow], th: Thresholds, *, now: datetime
) -> list[Hit]:
    """X accounts younger than ``young_days`` or with fewer followers than
    ``small_followers``, as X said at link time (refreshed within the budget since)."""
    accounts = accounts_of(links)
    hits = []
    for who in participants:
        link = accounts.get((who.user_id, who.x_user_id))
        if link is None:
            continue
        if link.x_created_at is not None:
            age = now - link.x_created_at
            if age < timedelta(days=th.young_days):
                hits.append(
                    _hit(
                        who,
                        ACCOUNT_YOUNG,
                        f"X account @{who.x_username} is {age.days} days old "
                        f"(under {th.young_days})",
                    )
                )
        if link.followers < th.small_followers:
            hits.append(
                _hit(
                    who,
                    ACCOUNT_SMALL,
                    f"X account @{who.x_username} has {link.followers} followers "
                    f"(under {th.small_followers})",
                )
            )
    return hits


# ---- bursts of completions from fresh accounts ---------------------------------------------
def check_burst(
    participants: Iterable[Who],
    links: list[LinkRow],
    completions: list[Completion],
    th: Thresholds,
    *,
    now: datetime,
) -> list[Hit]:
    """``burst_min`` or more fresh accounts (younger than ``burst_fresh_days``) whose first
    completion falls within ``burst_seconds`` of each other: each of them is flagged. One
    sliding window over the sorted times: O(n log n)."""
    people = {who.user_id: who for who in participants}
    accounts = accounts_of(links)
    fresh = set()
    for who in people.values():
        link = accounts.get((who.user_id, who.x_user_id))
        if link is not None and link.x_created_at is not None:
            if now - link.x_created_at < timedelta(days=th.burst_fresh_days):
                fresh.add(who.user_id)
    first: dict[int, datetime] = {}
    for done in completions:
        if done.user_id in fresh and (done.user_id not in first or done.at < first[done.user_id]):
            first[done.user_id] = done.at
    times = sorted((at, user_id) for user_id, at in first.items())
    window = timedelta(seconds=th.burst_seconds)
    caught: dict[int, int] = {}  # user -> the largest window they were part of
    start = 0
    for end in range(len(times)):
        while times[end][0] - times[start][0] > window:
            start += 1
        size = end - start + 1
        if size >= th.burst_min:
            for _, user_id in times[start : end + 1]:
                caught[user_id] = max(caught.get(user_id, 0), size)
    return [
        _hit(
            people[user_id],
            BURST,
            f"one of {size} accounts younger than {th.burst_fresh_days} days completing "
            f"within {th.burst_seconds} s of each other",
        )
        for user_id, size in sorted(caught.items())
    ]


# ---- near-duplicate reply and quote texts ---------------------------------------------------
_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}/\S*", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
SHINGLE = 5  # characters
MIN_CHARS = 12  # a normalised text shorter than this is not compared ("gm", "lfg")
# MinHash LSH, 30 hashes in 10 bands of 3: a pair at Jaccard 0.7 becomes a candidate with
# probability 1 - (1 - 0.7^3)^10 = 98.5%, at 0.3 with 24% (then refused by its exact
# Jaccard).
_BANDS, _ROWS = 10, 3
_RANDOM = random.Random(5)  # noqa: S311  fixed hash seeds, not a secret: runs must agree
_SEEDS = [_RANDOM.getrandbits(32) for _ in range(_BANDS * _ROWS)]
_COMPARE_MAX = 8  # members of a bucket one text is checked against exactly


def normalise(text: str) -> str:
    """Case, width and accents folded; URLs, @mentions, punctuation, symbols and emoji
    dropped; whitespace collapsed. ``#tag`` and ``$TAG`` keep their word."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = "".join(
        ch
        for ch in unicodedata.normalize("NFKD", text)
        if not unicodedata.combining(ch)  # accents
    )
    text = "".join(ch if ch.isalnum() else " " for ch in text)
    return " ".join(text.split())


def shingles(text: str) -> frozenset[int]:
    """CRC-32 of each run of ``SHINGLE`` characters (stable across processes)."""
    if len(text) <= SHINGLE:
        return frozenset({zlib.crc32(text.encode())})
    return frozenset(
        zlib.crc32(text[i : i + SHINGLE].encode()) for i in range(len(text) - SHINGLE + 1)
    )


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    common = len(a & b)
    return common / (len(a) + len(b) - common) if a or b else 1.0


def duplicate_groups(texts: list[str], threshold: float) -> list[list[int]]:
    """Indexes of ``texts`` grouped where texts are near-duplicates (normalised, Jaccard of
    shingles >= ``threshold``, transitively). Identical normalised texts meet by digest;
    the others by MinHash LSH, each candidate confirmed by its exact Jaccard against at
    most ``_COMPARE_MAX`` members per bucket: about linear in the number of texts, never
    all pairs."""
    by_text: dict[str, list[int]] = defaultdict(list)
    for index, text in enumerate(texts):
        normal = normalise(text)
        if len(normal) >= MIN_CHARS:
            by_text[normal].append(index)
    unique = list(by_text)
    sets = [shingles(text) for text in unique]
    parent = list(range(len(unique)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    buckets: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for i, hashes in enumerate(sets):
        signature = [min(map(seed.__xor__, hashes)) for seed in _SEEDS]
        checked = set()
        for band in range(_BANDS):
            key = (band, *signature[band * _ROWS : (band + 1) * _ROWS])
            members = buckets[key]
            for j in members[-_COMPARE_MAX:]:
                if j in checked or find(i) == find(j):
                    continue
                checked.add(j)
                if jaccard(sets[i], sets[j]) >= threshold:
                    parent[find(i)] = find(j)
            members.append(i)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, text in enumerate(unique):
        groups[find(i)].extend(by_text[text])
    return [sorted(members) for members in groups.values() if len(members) > 1]


def check_duplicates(
    participants: Iterable[Who], replies: list[Reply], th: Thresholds
) -> list[Hit]:
    """Participants whose reply or quote text is a near-duplicate of another
    participant's. In each group the earliest post (the smallest X id: X's ids grow with
    time) is taken as the original and not flagged."""
    people = {who.user_id: who for who in participants}
    hits: dict[int, Hit] = {}
    for group in duplicate_groups([reply.text for reply in replies], th.duplicate_similarity):
        members = [replies[i] for i in group]
        # The original's author is never flagged: one participant's own reply and quote
        # alike flag nobody.
        original = min(members, key=lambda r: (r.post_id is None, r.post_id or 0, r.user_id))
        for reply in members:
            if reply.user_id == original.user_id or reply.user_id in hits:
                continue
            if reply.user_id not in people:
                continue
            count = len({r.user_id for r in members}) - 1
            hits[reply.user_id] = _hit(
                people[reply.user_id],
                REPLY_DUPLICATE,
                f"post {reply.post_id} is a near-duplicate of {count} other participant(s)' "
                f"text in this raid (the earliest: post {original.post_id})",
            )
    return list(hits.values())


def hits_of(inputs: ScanInputs, th: Thresholds, *, now: datetime) -> list[Hit]:
    """Every check over one raid's rows; one hit per (participant, reason)."""
    who = inputs.participants
    found = [
        *check_blocked(who, users=inputs.blocked_users, x_accounts=inputs.blocked_x),
        *check_links(who, inputs.links, th),
        *check_multi_account(who, inputs.links, inputs.destinations),
        *check_accounts(who, inputs.links, th, now=now),
        *check_burst(who, inputs.links, inputs.completions, th, now=now),
        *check_duplicates(who, inputs.replies, th),
    ]
    unique: dict[tuple[int, str], Hit] = {}
    for hit in found:
        unique.setdefault((hit.user_id, hit.reason), hit)
    return list(unique.values())


# ---- reads (inside the tenant's schema) ---------------------------------------------------
def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def scan_inputs(*, tenant: Tenant, raid: Raid) -> ScanInputs:
    """What ``hits_of`` needs of ``raid``: a query per table (participants, results, the
    blocklist, xclient's link history, the wallet's withdrawals)."""
    participants = [
        Who(user_id=p.user_id, x_user_id=p.x_user_id, x_username=p.x_username)
        for p in Participant.objects.filter(raid=raid).only("user_id", "x_user_id", "x_username")
    ]
    user_ids = [who.user_id for who in participants]
    links = [
        LinkRow(
            user_id=link.user.telegram_id,
            x_user_id=link.x_user_id,
            username=link.username,
            x_created_at=link.x_created_at,
            followers=link.followers,
            linked_at=link.linked_at,
            unlinked_at=link.unlinked_at,
        )
        for link in link_history_of(
            telegram_ids=user_ids, x_user_ids=[who.x_user_id for who in participants]
        )
    ]
    replies: list[Reply] = []
    completions: list[Completion] = []
    rows = Result.objects.filter(participant__raid=raid, status=Result.Status.VERIFIED).values_list(
        "participant__user_id", "task__kind", "evidence", "verified_at"
    )
    for user_id, kind, evidence, verified_at in rows:
        evidence = evidence if isinstance(evidence, dict) else {}
        created = evidence.get("created_at")
        at = parse_datetime(created) if isinstance(created, str) else None
        at = at or verified_at
        if at is not None:
            completions.append(Completion(user_id=user_id, at=at))
        text = evidence.get("text")
        if kind in (Task.Kind.REPLY, Task.Kind.QUOTE) and isinstance(text, str):
            post_id = _int_or_none(evidence.get("post_id"))
            replies.append(Reply(user_id=user_id, post_id=post_id, text=text))
    blocked = list(Blocked.objects.values_list("user_id", "x_user_id"))
    return ScanInputs(
        participants=participants,
        links=links,
        replies=replies,
        completions=completions,
        blocked_users=frozenset(u for u, _ in blocked if u is not None),
        blocked_x=frozenset(x for _, x in blocked if x is not None),
        destinations=withdrawal_destinations(tenant=tenant, user_ids=user_ids),
    )


FLAG_STATUSES = (*Flag.Status.values, "all")


def flag_list(
    *,
    tenant: Tenant,
    status: str = "open",
    raid_id: int | None = None,
    chat_id: int | None = None,
) -> QuerySet[Flag]:
    """The community's flags (newest first), of one status or ``all``, of one raid or all,
    of one group's raids or all."""
    community_check(tenant)
    if status not in FLAG_STATUSES:
        raise ServiceError(f"status: one of {', '.join(FLAG_STATUSES)}", code="invalid")
    flags = Flag.objects.select_related("raid")
    if status != "all":
        flags = flags.filter(status=status)
    if raid_id is not None:
        flags = flags.filter(raid_id=raid_id)
    if chat_id is not None:
        flags = flags.filter(raid__chat_id=chat_id)
    return flags


def flag_participants(flags: Iterable[Flag]) -> dict[tuple[int, int], Participant]:
    """The participant each flag names, by (raid id, Telegram id): one query per page."""
    keys = {(flag.raid_id, flag.user_id) for flag in flags if flag.raid_id and flag.user_id}
    if not keys:
        return {}
    found = Participant.objects.filter(
        raid_id__in={raid for raid, _ in keys}, user_id__in={user for _, user in keys}
    )
    return {(p.raid_id, p.user_id): p for p in found if (p.raid_id, p.user_id) in keys}


def blocked_list(*, tenant: Tenant) -> QuerySet[Blocked]:
    community_check(tenant)
    return Blocked.objects.all()
