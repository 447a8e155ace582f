"""Creating a raid and what happens to it before it ends: the target post and the
accounts of follow tasks resolved through X, the join tasks' chats checked with Telegram,
the pool escrowed in the wallet in the raid's own transaction, the start, the group's
announcement with its "Join" button, the reminders before the end, and cancelling.

Everything a caller gives is checked first, each refusal naming its field
(``tasks[1].points: ...``); then X and Telegram are asked, outside any transaction (no
lock is held across a network call); then one transaction writes the raid, its tasks,
the hold, the history record and the jobs that start, remind and close it. A raid on a
post another open raid of the community uses is refused by the partial unique index
``raids_raid_open_post``, not by a lookup that a concurrent request could pass."""

from __future__ import annotations

import itertools
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
import tweepy
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context
from telegram import ChatMember

import history.services as history
from botruntime.services import job_enqueue
from community import botapi
from community.models import Group
from community.selectors import bound_group_get, group_bot_token
from config.errors import ServiceError
from history.services import Actor
from notifications.services.outbox import notify
from raids.models import Formula, Raid, Task
from raids.services.schedule import raid_validation_schedule
from tenancy.models import Tenant
from tenancy.selectors import community_check, tenant_bot_username, tenant_bots
from wallet.currencies import amount_decimal, currencies
from wallet.models import Hold
from wallet.services.holds import hold_cancel, hold_create
from wallet.services.ledger import account_get_or_create
from xclient.models import Priority
from xclient.reader import XReader

logger = logging.getLogger(__name__)

POST_URL = re.compile(
    r"^https?://(?:www\.|mobile\.)?(?:x|twitter)\.com/(?P<handle>[A-Za-z0-9_]{1,15})"
    r"/status(?:es)?/(?P<id>[0-9]{1,19})/?(?:[?#].*)?$"
)
USERNAME = re.compile(r"^@?[A-Za-z0-9_]{1,15}$")
MAX_TASKS = 10
MIN_POINTS, MAX_POINTS = 1, 10_000
MAX_DURATION = timedelta(days=30)
PAST_SLACK = timedelta(minutes=1)  # a start "now" typed a moment ago is still now
MAX_POOL = 10**15  # minor units: far past any real pool, well inside a bigint
MAX_WORDS, MAX_WORD, MAX_LENGTH = 10, 50, 280
MAX_GRACE = 24 * 3600
LIMITS = {"min_account_age_days": 36_500, "min_followers": 10**9, "min_level": 1_000}
REMINDERS = (timedelta(hours=1), timedelta(minutes=10))
JOIN_PAYLOAD = "raid_"


def field_error(field: str, message: str) -> ServiceError:
    return ServiceError(f"{field}: {message}", code="invalid", status=400)


def int_check(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise field_error(field, f"an integer from {low} to {high}")
    return value


def post_url_parse(url: Any) -> tuple[str, int]:
    """(handle as the URL spells it, post id) of an X post's URL; 400 ``invalid_post_url``
    for anything else. The handle is not trusted: the author is whoever X says."""
    match = POST_URL.match(url.strip()) if isinstance(url, str) else None
    if match is None:
        raise ServiceError(
            "post_url: an X post's address, https://x.com/<handle>/status/<id>",
            code="invalid_post_url",
            status=400,
        )
    post_id = int(match.group("id"))
    if not 0 < post_id < 2**63:
        raise ServiceError("post_url: no X post has this id", code="invalid_post_url", status=400)
    return match.group("handle"), post_id


# ---- tasks -------------------------------------------------------------------------------
def _words(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list) or len(value) > MAX_WORDS:
        raise field_error(field, f"a list of at most {MAX_WORDS} words")
    words: list[str] = []
    for word in value:
        if not isinstance(word, str) or not 0 < len(word.strip()) <= MAX_WORD:
            raise field_error(field, f"each word is text of 1-{MAX_WORD} characters")
        if word.strip() not in words:
            words.append(word.strip())
    return words


def _task_check(index: int, task: Any) -> dict[str, Any]:
    """One task as given, checked and normalised (follow and join not resolved yet)."""
    field = f"tasks[{index}]"
    if not isinstance(task, dict):
        raise field_error(field, "an object with kind, points, role and params")
    unknown = set(task) - {"kind", "points", "role", "params"}
    if unknown:
        raise field_error(field, f"unknown field {', '.join(sorted(unknown))}")
    kind = task.get("kind")
    if kind not in Task.Kind.values:
        raise field_error(f"{field}.kind", f"one of {', '.join(Task.Kind.values)}")
    points = int_check(task.get("points"), f"{field}.points", MIN_POINTS, MAX_POINTS)
    role = task.get("role", Task.Role.MEMBER)
    if role not in Task.Role.values:
        raise field_error(f"{field}.role", f"one of {', '.join(Task.Role.values)}")
    params = task.get("params") or {}
    if not isinstance(params, dict):
        raise field_error(f"{field}.params", "an object")
    allowed = {
        Task.Kind.REPLY: {"required_words", "min_length"},
        Task.Kind.QUOTE: {"required_words", "min_length"},
        Task.Kind.FOLLOW: {"username"},
        Task.Kind.JOIN: {"chat_id"},
    }.get(kind, set())
    unknown = set(params) - allowed
    if unknown:
        raise field_error(f"{field}.params", f"{kind} takes no {', '.join(sorted(unknown))}")
    checked: dict[str, Any] = {}
    if kind in (Task.Kind.REPLY, Task.Kind.QUOTE):
        checked["required_words"] = _words(
            params.get("required_words"), f"{field}.params.required_words"
        )
        checked["min_length"] = int_check(
            params.get("min_length", 0), f"{field}.params.min_length", 0, MAX_LENGTH
        )
    elif kind == Task.Kind.FOLLOW:
        username = params.get("username")
        if not isinstance(username, str) or not USERNAME.match(username):
            raise field_error(f"{field}.params.username", "an X handle: 1-15 letters, digits or _")
        checked["username"] = username.removeprefix("@")
    elif kind == Task.Kind.JOIN:
        checked["chat_id"] = int_check(
            params.get("chat_id"), f"{field}.params.chat_id", -(2**62), 2**62
        )
    return {"kind": kind, "points": points, "role": role, "params": checked}


def tasks_check(tasks: Any) -> list[dict[str, Any]]:
    if isinstance(tasks, str | bytes) or not isinstance(tasks, list) or not tasks:
        raise field_error("tasks", "a list of 1 or more tasks")
    if len(tasks) > MAX_TASKS:
        raise field_error("tasks", f"at most {MAX_TASKS} tasks")
    return [_task_check(i, task) for i, task in enumerate(tasks)]


# ---- formula -----------------------------------------------------------------------------
def formula_check(formula: Any, params: Any, pool_amount: int) -> dict[str, Any]:
    """The formula's parameters, checked against the pool they share."""
    if formula not in Formula.values:
        raise field_error("formula", f"one of {', '.join(Formula.values)}")
    params = params or {}
    if not isinstance(params, dict):
        raise field_error("formula_params", "an object")
    expected = {
        Formula.FIXED: {"per_task"},
        Formula.POINTS: set(),
        Formula.RANKS: {"bands"},
        Formula.THRESHOLD: {"min_points"},
    }[Formula(formula)]
    unknown = set(params) - expected
    if unknown:
        raise field_error("formula_params", f"{formula} takes no {', '.join(sorted(unknown))}")
    if formula == Formula.FIXED:
        per_task = int_check(params.get("per_task"), "formula_params.per_task", 1, pool_amount)
        return {"per_task": per_task}
    if formula == Formula.THRESHOLD:
        least = int_check(params.get("min_points"), "formula_params.min_points", 1, 10**6)
        return {"min_points": least}
    if formula == Formula.RANKS:
        return {"bands": _bands(params.get("bands"), pool_amount)}
    return {}


def _bands(value: Any, pool_amount: int) -> list[dict[str, int]]:
    """Rank bands in the shape the payouts take (``raids.payouts``): ``{first, last,
    amount}`` each, sorted, not overlapping, worth at most the pool."""
    if not isinstance(value, list) or not 0 < len(value) <= 20:
        raise field_error("formula_params.bands", "a list of 1-20 bands {first, last, amount}")
    bands: list[dict[str, int]] = []
    for i, band in enumerate(value):
        field = f"formula_params.bands[{i}]"
        if not isinstance(band, dict) or set(band) != {"first", "last", "amount"}:
            raise field_error(field, "an object {first, last, amount}")
        first = int_check(band["first"], f"{field}.first", 1, 100_000)
        last = int_check(band["last"], f"{field}.last", first, 100_000)
        amount = int_check(band["amount"], f"{field}.amount", 1, pool_amount)
        bands.append({"first": first, "last": last, "amount": amount})
    bands.sort(key=lambda b: b["first"])
    for before, after in itertools.pairwise(bands):
        if after["first"] <= before["last"]:
            raise field_error(
                "formula_params.bands",
                f"ranks {after['first']}-{before['last']} are in two bands",
            )
    total = sum((b["last"] - b["first"] + 1) * b["amount"] for b in bands)
    if total > pool_amount:
        raise field_error("formula_params.bands", f"the bands pay {total}, more than the pool")
    return bands


# ---- X and Telegram ----------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    post_id: int
    author_id: int
    author_username: str
    text: str


def _x_unavailable(tenant: Tenant, exc: Exception) -> ServiceError:
    logger.warning("raids.x_failed", extra={"tenant": tenant.slug, "error": str(exc)})
    return ServiceError("X could not be asked; try again", code="x_unavailable", status=502)


def post_resolve(*, tenant: Tenant, post_id: int) -> Target:
    """The post and its author as X says (``GET /2/tweets/:id`` with the author)."""
    reader = XReader(tenant=tenant, priority=Priority.VALIDATION)
    try:
        found = reader.post(post_id, expansions=["author_id"], user_fields=["username"])
    except tweepy.NotFound:
        found = None
    except (tweepy.TweepyException, requests.RequestException) as exc:
        raise _x_unavailable(tenant, exc) from exc
    if found is None or found.data is None:
        raise ServiceError(
            "post_url: X has no such post (deleted, protected or never posted)",
            code="post_not_found",
            status=404,
        )
    post = found.data
    users = (found.includes or {}).get("users", [])
    author = next((u for u in users if int(u.id) == int(post.author_id)), None)
    if author is None:
        raise ServiceError(
            "post_url: X did not say who wrote this post", code="post_not_found", status=404
        )
    return Target(int(post.id), int(author.id), str(author.username), str(post.text or ""))


def x_account_resolve(tenant: Tenant, username: str, field: str) -> tuple[int, str]:
    reader = XReader(tenant=tenant, priority=Priority.VALIDATION)
    try:
        found = reader.user_by_username(username)
    except (tweepy.TweepyException, requests.RequestException) as exc:
        raise _x_unavailable(tenant, exc) from exc
    if found.data is None:
        raise ServiceError(
            f"{field}: X has no account @{username}", code="x_user_not_found", status=400
        )
    return int(found.data.id), str(found.data.username)


def _join_check(tenant: Tenant, group: Group, chat_id: int, field: str) -> str:
    """The title of a chat whose members the bot can see (it administers it: Telegram
    shows a channel's members to its administrators only)."""
    token = group_bot_token(tenant=tenant, bot_id=group.bot_id)
    bot_id = int(token.split(":", 1)[0])
    try:
        status = botapi.chat_member_status(token=token, chat_id=chat_id, user_id=bot_id)
    except ServiceError as exc:
        raise ServiceError(
            f"{field}: the bot cannot see this chat ({exc.message}); add it as an administrator",
            code="join_chat_unreachable",
            status=400,
        ) from exc
    if status not in (ChatMember.ADMINISTRATOR, ChatMember.OWNER):
        raise ServiceError(
            f"{field}: make the bot an administrator of this chat, so it can see who joined",
            code="join_chat_unreachable",
            status=400,
        )
    return botapi.chat_title(token=token, chat_id=chat_id)


def _tasks_resolve(tenant: Tenant, group: Group, tasks: list[dict[str, Any]]) -> None:
    for i, task in enumerate(tasks):
        params = task["params"]
        if task["kind"] == Task.Kind.FOLLOW:
            x_user_id, username = x_account_resolve(
                tenant, params["username"], f"tasks[{i}].params.username"
            )
            task["params"] = {"x_user_id": x_user_id, "username": username}
        elif task["kind"] == Task.Kind.JOIN:
            title = _join_check(tenant, group, params["chat_id"], f"tasks[{i}].params.chat_id")
            task["params"] = {"chat_id": params["chat_id"], "title": title}


# ---- create ------------------------------------------------------------------------------
def _times(starts_at: Any, ends_at: Any, now: datetime) -> tuple[datetime, datetime]:
    for field, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not isinstance(value, datetime) or timezone.is_naive(value):
            raise field_error(field, "a date and time with its timezone")
    if starts_at < now - PAST_SLACK:
        raise field_error("starts_at", "in the past; start now or later")
    if ends_at <= starts_at:
        raise field_error("ends_at", "after starts_at")
    if ends_at - starts_at > MAX_DURATION:
        raise field_error("ends_at", f"at most {MAX_DURATION.days} days after starts_at")
    return starts_at, ends_at


def raid_create(
    *,
    tenant: Tenant,
    chat_id: int,
    post_url: str,
    tasks: list[dict[str, Any]],
    starts_at: datetime,
    ends_at: datetime,
    currency: str,
    pool_amount: int,
    formula: str,
    formula_params: dict[str, Any] | None = None,
    min_account_age_days: int = 0,
    min_followers: int = 0,
    members_only: bool = True,
    min_level: int = 0,
    unverifiable_scores: bool = False,
    grace_seconds: int = 30,
    title: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    request: Any = None,
) -> tuple[Raid, bool]:
    """Create a raid in the bound group ``chat_id``: (raid, created). With
    ``idempotency_key`` the same key again answers the raid it created (False)."""
    community_check(tenant)
    now = now or timezone.now()
    with tenant_context(tenant):
        group = bound_group_get(tenant=tenant, chat_id=chat_id)
    _, post_id = post_url_parse(post_url)
    checked = tasks_check(tasks)
    starts_at, ends_at = _times(starts_at, ends_at, now)
    if currency not in currencies():
        raise field_error("currency", f"one of {', '.join(sorted(currencies()))}")
    pool_amount = int_check(pool_amount, "pool_amount", 1, MAX_POOL)
    params = formula_check(formula, formula_params, pool_amount)
    eligibility = {
        name: int_check(value, name, 0, LIMITS[name])
        for name, value in (
            ("min_account_age_days", min_account_age_days),
            ("min_followers", min_followers),
            ("min_level", min_level),
        )
    }
    grace_seconds = int_check(grace_seconds, "grace_seconds", 0, MAX_GRACE)
    if not isinstance(title, str) or len(title) > 120:
        raise field_error("title", "text of at most 120 characters")
    if not isinstance(members_only, bool) or not isinstance(unverifiable_scores, bool):
        raise field_error("members_only", "true or false")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 100:
        raise field_error("idempotency_key", "1-100 characters")

    # X and Telegram, outside the transaction.
    target = post_resolve(tenant=tenant, post_id=post_id)
    _tasks_resolve(tenant, group, checked)

    key = f"raid:{chat_id}:{idempotency_key or uuid.uuid4().hex}"
    status = Raid.Status.ACTIVE if starts_at <= now else Raid.Status.SCHEDULED
    with tenant_context(tenant), transaction.atomic():
        # insufficient_funds (409) rolls the whole raid back: nothing is written.
        hold = hold_create(
            tenant=tenant,
            group_account=account_get_or_create(
                tenant=tenant,
                owner_kind="group",
                owner_id=chat_id,
                currency=currency,
                kind="available",
            ),
            amount=pool_amount,
            reference=f"raid:{chat_id}:{target.post_id}",
            idempotency_key=key,
            actor=actor,
        )
        replayed = Raid.objects.filter(hold_id=hold.pk).first()
        if replayed is not None:
            return replayed, False
        try:
            with transaction.atomic():
                raid = Raid.objects.create(
                    chat_id=chat_id,
                    title=title.strip(),
                    post_id=target.post_id,
                    post_url=f"https://x.com/{target.author_username}/status/{target.post_id}",
                    post_author_id=target.author_id,
                    post_author_username=target.author_username,
                    post_text=target.text,
                    status=status,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    grace_seconds=grace_seconds,
                    members_only=members_only,
                    unverifiable_scores=unverifiable_scores,
                    currency=currency,
                    pool_amount=pool_amount,
                    hold_id=hold.pk,
                    formula=formula,
                    formula_params=params,
                    created_by=int(actor.id) if actor.type == "user" else None,
                    **eligibility,
                )
        except IntegrityError:
            raise ServiceError(
                "post_url: another open raid of this community is on this post",
                code="raid_exists",
                status=409,
            ) from None
        Task.objects.bulk_create(
            Task(raid=raid, position=i, **task) for i, task in enumerate(checked)
        )
        history.record(
            action="raids.raid_created",
            actor=actor,
            tenant=tenant,
            target=("raid", raid.pk),
            data={
                "chat_id": chat_id,
                "post_id": target.post_id,
                "post_author_id": target.author_id,
                "pool_amount": pool_amount,
                "currency": currency,
                "formula": formula,
                "hold_id": hold.pk,
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
                "tasks": [[t["kind"], t["role"], t["points"]] for t in checked],
            },
            request=request,
        )
        _schedule(tenant, raid)
        if status == Raid.Status.ACTIVE:
            raid_announce(tenant=tenant, raid=raid)
    logger.info(
        "raids.raid_created",
        extra={"tenant": tenant.slug, "raid_id": raid.pk, "chat_id": chat_id, "status": status},
    )
    return raid, True


def _dedupe(tenant: Tenant, what: str, raid: Raid) -> str:
    return f"{what}:{tenant.pk}:{raid.pk}"


def _schedule(tenant: Tenant, raid: Raid) -> None:
    """The raid's jobs, in its transaction: start (if later), reminders, close, validation."""
    payload = {"raid_id": raid.pk}
    if raid.status == Raid.Status.SCHEDULED:
        job_enqueue(
            kind="raids.start",
            tenant=tenant,
            payload=payload,
            run_at=raid.starts_at,
            dedupe_key=_dedupe(tenant, "raids.start", raid),
        )
    for before in REMINDERS:
        at = raid.ends_at - before
        if at > raid.starts_at:
            seconds = int(before.total_seconds())
            job_enqueue(
                kind="raids.remind",
                tenant=tenant,
                payload={**payload, "before": seconds},
                run_at=at,
                dedupe_key=f"{_dedupe(tenant, 'raids.remind', raid)}:{seconds}",
            )
    job_enqueue(
        kind="raids.close",
        tenant=tenant,
        payload=payload,
        run_at=raid.ends_at,
        dedupe_key=_dedupe(tenant, "raids.close", raid),
    )
    # Validation passes from the start (each schedules the next), the final one after the end.
    raid_validation_schedule(tenant=tenant, raid=raid, at=raid.starts_at)


# ---- start, announce, remind -------------------------------------------------------------
def raid_activate(*, tenant: Tenant, raid: Raid, now: datetime | None = None) -> bool:
    """A scheduled raid whose start has come opens (True); anything else stays as it is
    (False: already started, cancelled, or not yet time)."""
    now = now or timezone.now()
    with tenant_context(tenant), transaction.atomic():
        locked = Raid.objects.select_for_update().get(pk=raid.pk)
        if locked.status != Raid.Status.SCHEDULED or locked.starts_at > now:
            return False
        locked.status = Raid.Status.ACTIVE
        locked.save(update_fields=["status"])
        history.record(
            action="raids.raid_started",
            tenant=tenant,
            target=("raid", locked.pk),
            data={"chat_id": locked.chat_id},
        )
    raid.status = Raid.Status.ACTIVE
    logger.info("raids.raid_started", extra={"tenant": tenant.slug, "raid_id": raid.pk})
    return True


def join_link(*, tenant: Tenant, raid: Raid) -> str | None:
    """The deep link that joins the raid in a private chat with the community's bot:
    ``raid_<id>`` on its own bot; on the platform's shared bot the payload names the
    community first (``<slug>_raid_<id>``), as the runtime resolves shared-bot links."""
    username = tenant_bot_username(tenant=tenant)
    if not username:
        return None
    own = any(True for _ in tenant_bots(tenant=tenant))
    payload = f"{JOIN_PAYLOAD}{raid.pk}" if own else f"{tenant.slug}_{JOIN_PAYLOAD}{raid.pk}"
    return f"https://t.me/{username}?start={payload}"


def money(amount: int, currency: str) -> str:
    return f"{amount_decimal(amount, currencies().get(currency, 0))} {currency}"


def task_line(task: Task) -> str:
    what = {
        Task.Kind.REPOST: "Repost",
        Task.Kind.REPLY: "Reply",
        Task.Kind.QUOTE: "Quote",
        Task.Kind.LIKE: "Like",
        Task.Kind.FOLLOW: f"Follow @{task.params.get('username', '')}",
        Task.Kind.JOIN: f"Join {task.params.get('title') or task.params.get('chat_id')}",
    }[Task.Kind(task.kind)]
    words = task.params.get("required_words") or []
    if words:
        what += f" (with {', '.join(words)})"
    if task.params.get("min_length"):
        what += f" (at least {task.params['min_length']} characters)"
    kol = " [KOL]" if task.role == Task.Role.KOL else ""
    return f"- {what}: {task.points} pts{kol}"


def announcement_text(raid: Raid) -> str:
    name = raid.title or f"Raid on @{raid.post_author_username}"
    lines = [
        f"New raid: {name}",
        raid.post_url,
        f"Pool: {money(raid.pool_amount, raid.currency)}",
        f"Ends: {raid.ends_at:%Y-%m-%d %H:%M} UTC",
        "Tasks:",
        *(task_line(task) for task in raid.tasks.all()),
        "Press Join, then do the tasks from your linked X account.",
    ]
    return "\n".join(lines)


def raid_announce(*, tenant: Tenant, raid: Raid) -> bool:
    """The group's announcement of an active raid, with its "Join" button (once: the
    outbox's idempotency key). False when the raid is not active."""
    with tenant_context(tenant), transaction.atomic():
        raid = Raid.objects.get(pk=raid.pk)
        if raid.status != Raid.Status.ACTIVE:
            return False
        link = join_link(tenant=tenant, raid=raid)
        options = (
            {"reply_markup": {"inline_keyboard": [[{"text": "Join", "url": link}]]}}
            if link
            else None
        )
        notify(
            tenant=tenant,
            event="raid.created",
            chat_id=raid.chat_id,
            text=announcement_text(raid),
            idempotency_key=f"raid:{raid.pk}:announce",
            options=options,
        )
    return True


def raid_remind(*, tenant: Tenant, raid: Raid, before: timedelta) -> bool:
    """ "Ends in ..." in the group, once per raid and ``before`` (the outbox's key);
    False when the raid is no longer active."""
    with tenant_context(tenant), transaction.atomic():
        raid = Raid.objects.get(pk=raid.pk)
        if raid.status != Raid.Status.ACTIVE:
            return False
        minutes = int(before.total_seconds() // 60)
        left = f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"
        link = join_link(tenant=tenant, raid=raid)
        text = (
            f"Raid {raid.title or f'on @{raid.post_author_username}'} ends in {left}: "
            f"{raid.participants_count} joined. {raid.post_url}"
        )
        notify(
            tenant=tenant,
            event="raid.ending",
            chat_id=raid.chat_id,
            text=text,
            idempotency_key=f"raid:{raid.pk}:remind:{int(before.total_seconds())}",
            options=(
                {"reply_markup": {"inline_keyboard": [[{"text": "Join", "url": link}]]}}
                if link
                else None
            ),
        )
    return True


# ---- cancel ------------------------------------------------------------------------------
CANCELLABLE = (Raid.Status.SCHEDULED, Raid.Status.ACTIVE, Raid.Status.VALIDATING)


def raid_cancel(*, tenant: Tenant, raid: Raid, actor: Actor, request: Any = None) -> Raid:
    """Cancel a raid before its settlement: the whole pool goes back to the group."""
    community_check(tenant)
    with tenant_context(tenant), transaction.atomic():
        locked = Raid.objects.select_for_update().get(pk=raid.pk)
        if locked.status not in CANCELLABLE:
            raise ServiceError(
                f"this raid is {locked.status}: only a raid not settled yet can be cancelled",
                code="raid_not_cancellable",
                status=409,
            )
        released = 0
        if locked.hold_id is not None:
            hold = Hold.objects.get(pk=locked.hold_id, tenant=tenant)
            released = hold.remaining
            hold_cancel(hold=hold, idempotency_key=f"raid:{locked.pk}:cancel", actor=actor)
        was = locked.status
        locked.status = Raid.Status.CANCELLED
        locked.save(update_fields=["status"])
        history.record(
            action="raids.raid_cancelled",
            actor=actor,
            tenant=tenant,
            target=("raid", locked.pk),
            data={"was": was, "released": released, "currency": locked.currency},
            request=request,
        )
    logger.info("raids.raid_cancelled", extra={"tenant": tenant.slug, "raid_id": locked.pk})
    return locked
