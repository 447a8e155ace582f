"""Giveaways: a prize pool escrowed at creation, entries checked against what Telegram
and X confirm, and a commit-reveal draw (``raids.giveaways``) paid through the wallet.

Lock order: the giveaway row, then the wallet hold (``hold_settle``/``hold_cancel`` lock
it, then accounts by id). An entry takes the giveaway row FOR SHARE (entries run in
parallel); the draw and a cancel take it FOR UPDATE, so no entry commits after the draw
read the entrants, and no entry is accepted once the row says drawn or cancelled."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

import history.services as history
from accounts.models import TelegramUser
from botruntime.services import job_enqueue
from community import botapi
from community.selectors import bound_group_get, group_bot_token
from config.encryption import decrypt, encrypt
from config.errors import ServiceError
from history.services import SYSTEM, Actor
from notifications.services.outbox import notify
from raids import giveaways as drawing
from raids.models import Contest, Entry, Giveaway
from raids.selectors_giveaways import raid_points_total
from tenancy.models import Tenant
from tenancy.selectors import community_check
from wallet.models import Account, Hold
from wallet.services.holds import hold_cancel, hold_create, hold_settle
from wallet.services.ledger import account_get_or_create
from xclient.selectors import link_active

logger = logging.getLogger(__name__)

MAX_WINNERS = 1000
MAX_TITLE = 120
MAX_AHEAD = timedelta(days=90)
DRAW_JOB = "raids.giveaway_draw"

Pooled = TypeVar("Pooled", Giveaway, Contest)


def _invalid(message: str, code: str = "invalid") -> ServiceError:
    return ServiceError(message, code=code, status=400)


def hold_of(*, tenant: Tenant, hold_id: int | None) -> Hold:
    """The pool's hold (every giveaway and contest has one from its creation), of this
    tenant only: the hold table is shared by every tenant."""
    if hold_id is None:
        raise RuntimeError("a pool without its hold")
    return Hold.objects.get(pk=hold_id, tenant=tenant)


def group_account(*, tenant: Tenant, chat_id: int, currency: str) -> Account:
    return account_get_or_create(
        tenant=tenant, owner_kind="group", owner_id=chat_id, currency=currency, kind="available"
    )


def pool_open(
    *,
    tenant: Tenant,
    model: type[Pooled],
    chat_id: int,
    title: str,
    currency: str,
    fields: dict[str, Any],
    audited: tuple[str, ...],
    amount: int,
    then: tuple[str, datetime],
    actor: Actor,
    announcement: Callable[[Pooled], str],
) -> Pooled:
    """Create a giveaway or contest (``model`` with ``fields``) in the bound group
    ``chat_id`` and, in the same transaction: escrow its pool from the group's wallet (one
    hold per record: its key; ``insufficient_funds`` rolls the creation back), schedule its
    one-off job ``then`` (the draw or the settlement, and when), record the creation (the
    ``audited`` fields beside the group and currency; never a secret) and announce it to
    the group."""
    what = model.__name__.lower()  # "giveaway", "contest": keys, jobs and audit names
    job, run_at = then
    with tenant_context(tenant), transaction.atomic():
        bound_group_get(tenant=tenant, chat_id=chat_id)
        record = model.objects.create(
            chat_id=chat_id,
            title=title.strip(),
            currency=currency,
            created_by=int(actor.id) if actor.type == "user" else None,
            **fields,
        )
        hold = hold_create(
            tenant=tenant,
            group_account=group_account(
                tenant=tenant, chat_id=record.chat_id, currency=record.currency
            ),
            amount=amount,
            reference=f"{what}:{record.pk}",
            idempotency_key=f"{what}:{record.pk}:pool",
            actor=actor,
        )
        record.hold_id = hold.pk
        record.save(update_fields=["hold_id"])
        job_enqueue(
            kind=job,
            tenant=tenant,
            payload={f"{what}_id": record.pk},
            run_at=run_at,
            dedupe_key=f"{job}:{tenant.pk}:{record.pk}",
        )
        history.record(
            action=f"raids.{what}_created",
            actor=actor,
            tenant=tenant,
            target=(what, record.pk),
            data={
                "chat_id": chat_id,
                "currency": currency,
                **{key: _audit_value(fields[key]) for key in audited},
            },
        )
        notify(
            tenant=tenant,
            event=f"{what}.created",
            chat_id=record.chat_id,
            text=announcement(record),
            idempotency_key=f"{what}:{record.pk}:created",
        )
    logger.info(
        f"raids.{what}_created",
        extra={"tenant": tenant.slug, f"{what}_id": record.pk, "chat_id": chat_id},
    )
    return record


def _audit_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def pool_cancel(
    *, tenant: Tenant, what: str, record: Giveaway | Contest, actor: Actor, audit: dict[str, Any]
) -> None:
    """In the cancellation's transaction, ``record`` locked: the pool goes back to the
    group, the record is cancelled and the cancellation recorded."""
    hold_cancel(
        hold=hold_of(tenant=tenant, hold_id=record.hold_id),
        idempotency_key=f"{what}:{record.pk}:cancel",
        actor=actor,
    )
    record.status = "cancelled"
    record.save(update_fields=["status"])
    history.record(
        action=f"raids.{what}_cancelled",
        actor=actor,
        tenant=tenant,
        target=(what, record.pk),
        data=audit,
    )


def _create_check(
    *, title: str, pool_amount: int, winners: int, draw_at: datetime, now: datetime
) -> None:
    if not title.strip() or len(title) > MAX_TITLE:
        raise _invalid(f"title: 1 to {MAX_TITLE} characters")
    if not 1 <= winners <= MAX_WINNERS:
        raise _invalid(f"winners: 1 to {MAX_WINNERS}")
    if pool_amount < winners:
        raise _invalid("pool_amount: at least one minor unit per winner")
    if draw_at <= now:
        raise _invalid("draw_at: a time in the future")
    if draw_at > now + MAX_AHEAD:
        raise _invalid(f"draw_at: within {MAX_AHEAD.days} days")


def _announcement(giveaway: Giveaway) -> str:
    return (
        f"🎁 Giveaway #{giveaway.pk}: {giveaway.title}\n"
        f"{giveaway.winners} winner(s) share {giveaway.pool_amount} (minor units of "
        f"{giveaway.currency}); draw at {giveaway.draw_at:%Y-%m-%d %H:%M} UTC. Enter with "
        f"/giveaway {giveaway.pk}\nCommitment (sha256 of the secret revealed at the draw): "
        f"{giveaway.commitment}"
    )


def giveaway_create(
    *,
    tenant: Tenant,
    chat_id: int,
    title: str,
    currency: str,
    pool_amount: int,
    winners: int,
    draw_at: datetime,
    members_only: bool = True,
    min_raid_points: int = 0,
    x_linked: bool = False,
    actor: Actor = SYSTEM,
    now: datetime | None = None,
) -> Giveaway:
    """Open a giveaway in a bound group: escrow the pool (a wallet hold; insufficient
    funds raise and nothing is created), draw a random secret and publish its SHA-256
    (the commitment) to the group, keep the secret encrypted until the draw, and
    schedule the draw at ``draw_at``."""
    community_check(tenant)
    now = now or timezone.now()
    _create_check(title=title, pool_amount=pool_amount, winners=winners, draw_at=draw_at, now=now)
    if min_raid_points < 0:
        raise _invalid("min_raid_points: 0 or more")
    secret = secrets.token_bytes(drawing.SECRET_BYTES)
    commitment = drawing.commitment_of(secret)
    return pool_open(
        tenant=tenant,
        model=Giveaway,
        chat_id=chat_id,
        title=title,
        currency=currency,
        fields={
            "pool_amount": pool_amount,
            "winners": winners,
            "members_only": members_only,
            "min_raid_points": min_raid_points,
            "x_linked": x_linked,
            "commitment": commitment,
            "secret": encrypt(secret.hex()),
            "draw_at": draw_at,
        },
        audited=("pool_amount", "winners", "draw_at", "commitment"),
        amount=pool_amount,
        then=(DRAW_JOB, draw_at),
        actor=actor,
        announcement=_announcement,
    )


# ---- entering ----------------------------------------------------------------------------
_LOCK_SQL = {
    True: "SELECT * FROM raids_giveaway WHERE id = %s FOR SHARE",
    False: "SELECT * FROM raids_giveaway WHERE id = %s FOR UPDATE",
}


def _locked(giveaway_id: int, *, share: bool) -> Giveaway:
    rows = list(Giveaway.objects.raw(_LOCK_SQL[share], [giveaway_id]))
    if not rows:
        raise ServiceError("no such giveaway", code="giveaway_not_found", status=404)
    return rows[0]


def _refused(message: str, code: str) -> ServiceError:
    return ServiceError(message, code=code, status=403)


def entry_conditions_check(*, tenant: Tenant, giveaway: Giveaway, user: TelegramUser) -> None:
    """Each condition against what Telegram and X confirm, refused with its own code:
    ``not_a_member`` (getChatMember), ``not_enough_raid_points``, ``x_not_linked``."""
    if giveaway.x_linked:
        if link_active(user=user) is None:
            raise _refused("link your X account first", "x_not_linked")
    if giveaway.min_raid_points:
        points = raid_points_total(tenant=tenant, user_id=user.telegram_id)
        if points < giveaway.min_raid_points:
            raise _refused(
                f"this giveaway needs {giveaway.min_raid_points} raid points; you have {points}",
                "not_enough_raid_points",
            )
    if giveaway.members_only:
        with tenant_context(tenant):
            group = bound_group_get(tenant=tenant, chat_id=giveaway.chat_id)
        status = botapi.chat_member_status(
            token=group_bot_token(tenant=tenant, bot_id=group.bot_id),
            chat_id=giveaway.chat_id,
            user_id=user.telegram_id,
        )
        if status not in botapi.IN_CHAT:
            raise _refused("only members of the group can enter", "not_a_member")


def _open_check(giveaway: Giveaway, now: datetime) -> None:
    if giveaway.status != Giveaway.Status.OPEN:
        raise ServiceError(
            f"this giveaway is {giveaway.status}", code="giveaway_closed", status=409
        )
    if now >= giveaway.draw_at:
        raise ServiceError("entries closed at the draw time", code="giveaway_closed", status=409)


def giveaway_enter(
    *, tenant: Tenant, giveaway: Giveaway, user: TelegramUser, now: datetime | None = None
) -> Entry:
    """Enter ``user`` (once: a second entry raises ``already_entered``). Telegram and X
    are asked before the transaction, so no row lock is held across a network call; the
    giveaway is read again under its lock before the entry is written."""
    community_check(tenant)
    now = now or timezone.now()
    _open_check(giveaway, now)
    entry_conditions_check(tenant=tenant, giveaway=giveaway, user=user)
    with tenant_context(tenant):
        try:
            with transaction.atomic():
                locked = _locked(giveaway.pk, share=True)
                _open_check(locked, now)
                entry = Entry.objects.create(
                    giveaway=locked, user_id=user.telegram_id, entered_at=now
                )
                history.record(
                    action="raids.giveaway_entered",
                    actor=Actor.user(user),
                    tenant=tenant,
                    target=("giveaway", locked.pk),
                    data={"user_id": user.telegram_id},
                )
        except IntegrityError as exc:
            raise ServiceError(
                "you already entered this giveaway", code="already_entered", status=409
            ) from exc
    logger.info(
        "raids.giveaway_entered",
        extra={"tenant": tenant.slug, "giveaway_id": giveaway.pk, "user_id": user.telegram_id},
    )
    return entry


# ---- the draw ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DrawOutcome:
    giveaway: Giveaway
    winners: list[int]
    replayed: bool  # already drawn: nothing moved


def _shares(pool: int, count: int) -> int:
    return pool // count if count else 0


def giveaway_draw(
    *, tenant: Tenant, giveaway: Giveaway, now: datetime | None = None, actor: Actor = SYSTEM
) -> DrawOutcome:
    """At or after ``draw_at``: reveal the secret, draw among the entrants, pay the
    winners equal shares from the hold (the remainder goes back to the group), publish
    everything needed to re-run the draw in ``result``. One transaction: a crash
    anywhere leaves the giveaway open and the hold untouched, and the next run pays each
    winner exactly once (the settlement's key is the giveaway's). Drawing a drawn
    giveaway returns it unchanged."""
    community_check(tenant)
    now = now or timezone.now()
    with tenant_context(tenant), transaction.atomic():
        locked = _locked(giveaway.pk, share=False)
        if locked.status == Giveaway.Status.DRAWN:
            return DrawOutcome(locked, [int(i) for i in locked.result["winners"]], True)
        if locked.status != Giveaway.Status.OPEN:
            raise ServiceError(
                f"this giveaway is {locked.status}", code="giveaway_closed", status=409
            )
        if now < locked.draw_at:
            raise ServiceError("the draw is not due yet", code="draw_not_due", status=409)
        secret = bytes.fromhex(decrypt(locked.secret))
        if drawing.commitment_of(secret) != locked.commitment:
            raise RuntimeError(f"giveaway {locked.pk}: the stored secret is not the committed one")
        entrants = drawing.entrants_order(locked.entries.values_list("user_id", flat=True))
        winners = drawing.draw(secret=secret, entrants=entrants, winners=locked.winners)
        share = _shares(locked.pool_amount, len(winners))
        hold = hold_of(tenant=tenant, hold_id=locked.hold_id)
        key = f"giveaway:{locked.pk}:draw"
        if winners:
            accounts = [
                account_get_or_create(
                    tenant=tenant,
                    owner_kind="user",
                    owner_id=user_id,
                    currency=locked.currency,
                    kind="available",
                )
                for user_id in winners
            ]
            hold_settle(hold=hold, payouts=[(a, share) for a in accounts], idempotency_key=key)
        else:
            hold_cancel(hold=hold, idempotency_key=key)
        for rank, user_id in enumerate(winners, start=1):
            Entry.objects.filter(giveaway=locked, user_id=user_id).update(rank=rank, payout=share)
        locked.result = {
            "version": 1,
            "algorithm": drawing.ALGORITHM,
            "giveaway_id": locked.pk,
            "commitment": locked.commitment,
            "secret": secret.hex(),
            "entrants": entrants,
            "entrants_count": len(entrants),
            "entrants_sha256": drawing.entrants_digest(entrants),
            "winners_count": locked.winners,
            "winners": winners,
            "share": share,
            "currency": locked.currency,
            "returned": locked.pool_amount - share * len(winners),
            "drawn_at": now.isoformat(),
        }
        locked.secret = secret.hex()  # revealed
        locked.status = Giveaway.Status.DRAWN
        locked.drawn_at = now
        locked.save(update_fields=["result", "secret", "status", "drawn_at"])
        history.record(
            action="raids.giveaway_drawn",
            actor=actor,
            tenant=tenant,
            target=("giveaway", locked.pk),
            data={
                "secret": secret.hex(),
                "entrants_count": len(entrants),
                "entrants_sha256": locked.result["entrants_sha256"],
                "winners": winners,
                "share": share,
            },
        )
        _announce_draw(tenant, locked, winners, share)
    logger.info(
        "raids.giveaway_drawn",
        extra={"tenant": tenant.slug, "giveaway_id": locked.pk, "winners": len(winners)},
    )
    return DrawOutcome(locked, winners, False)


def _announce_draw(tenant: Tenant, giveaway: Giveaway, winners: list[int], share: int) -> None:
    result = giveaway.result
    if winners:
        listed = ", ".join(str(w) for w in winners[:20]) + (" ..." if len(winners) > 20 else "")
        outcome = (
            f"Winners ({len(winners)}, {share} {giveaway.currency} minor units each): {listed}"
        )
    else:
        outcome = "Nobody entered: the pool went back to the group."
    notify(
        tenant=tenant,
        event="giveaway.drawn",
        chat_id=giveaway.chat_id,
        text=(
            f"🎉 Giveaway #{giveaway.pk} drawn: {giveaway.title}\n{outcome}\n"
            f"Secret: {result['secret']}\nsha256(secret) = {giveaway.commitment} "
            f"(the commitment published at creation). Entrants: {result['entrants_count']}, "
            f"list sha256 {result['entrants_sha256']}. Anyone can re-run the draw."
        ),
        idempotency_key=f"giveaway:{giveaway.pk}:drawn",
    )
    users = {u.telegram_id: u for u in TelegramUser.objects.filter(telegram_id__in=winners)}
    for rank, user_id in enumerate(winners, start=1):
        user = users.get(user_id)
        if user is None:
            continue
        notify(
            tenant=tenant,
            event="giveaway.won",
            user=user,
            text=(
                f"🏆 You won giveaway #{giveaway.pk} ({giveaway.title}), rank {rank}: "
                f"{share} {giveaway.currency} minor units are in your wallet."
            ),
            idempotency_key=f"giveaway:{giveaway.pk}:won:{user_id}",
        )


def giveaway_cancel(
    *, tenant: Tenant, giveaway: Giveaway, actor: Actor, now: datetime | None = None
) -> Giveaway:
    """Cancel an open giveaway before its draw: the pool goes back to the group whole."""
    community_check(tenant)
    now = now or timezone.now()
    with tenant_context(tenant), transaction.atomic():
        locked = _locked(giveaway.pk, share=False)
        if locked.status == Giveaway.Status.CANCELLED:
            return locked
        if locked.status != Giveaway.Status.OPEN:
            raise ServiceError(
                f"this giveaway is {locked.status}", code="giveaway_closed", status=409
            )
        pool_cancel(
            tenant=tenant,
            what="giveaway",
            record=locked,
            actor=actor,
            audit={"at": now.isoformat()},
        )
        notify(
            tenant=tenant,
            event="giveaway.drawn",
            chat_id=locked.chat_id,
            text=f"Giveaway #{locked.pk} ({locked.title}) was cancelled; no draw.",
            idempotency_key=f"giveaway:{locked.pk}:cancelled",
        )
    return locked


def giveaway_result_of(giveaway: Giveaway) -> dict[str, Any]:
    """The published draw (empty until drawn)."""
    return dict(giveaway.result) if giveaway.status == Giveaway.Status.DRAWN else {}
