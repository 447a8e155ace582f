"""A community's KOLs: who they are on X (the handle resolved through X, kept by X's id),
how they are paid, and the campaigns their posts count for. Every change is audited
(``xfeed.kol_added``, ``xfeed.kol_updated`` with what changed, ``xfeed.kol_removed``).

Removing a KOL stops tracking but keeps their posts and snapshots: reports of past
periods stay whole. Adding the same X account again brings the KOL back."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import requests
import tweepy
from django.db import IntegrityError, transaction
from django_tenants.utils import tenant_context

import history.services as history
from config.errors import ServiceError
from history.services import Actor
from tenancy.models import Tenant
from tenancy.selectors import community_check
from wallet.currencies import currencies
from xclient.models import Priority
from xclient.reader import XReader
from xfeed.models import Kol

logger = logging.getLogger(__name__)

USERNAME = re.compile(r"^[A-Za-z0-9_]{1,15}$")
CAMPAIGN = re.compile(r"^[a-z0-9_]{1,32}$")
MAX_CAMPAIGNS = 20
MAX_RATE = 10**15  # minor units: far past any real fee, well inside a bigint
EDITABLE = ("username", "tier", "rate_amount", "rate_currency", "billing", "payout_address")
EDITABLE_ALL = (*EDITABLE, "notes", "campaigns")


def _invalid(field: str, message: str) -> ServiceError:
    return ServiceError(f"{field}: {message}", code="invalid")


def _campaigns(values: Iterable[Any]) -> list[str]:
    """Tags as given, without a leading # and lower-cased, each once, in order."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise _invalid("campaigns", "a list of tags")
    tags: list[str] = []
    for value in values:
        tag = value.removeprefix("#").lower() if isinstance(value, str) else None
        if tag is None or not CAMPAIGN.match(tag):
            raise _invalid("campaigns", f"{value!r} is not a tag of 1-32 of a-z, 0-9 and _")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_CAMPAIGNS:
        raise _invalid("campaigns", f"at most {MAX_CAMPAIGNS} campaigns")
    return tags


def kol_validate(
    *,
    username: Any,
    tier: Any,
    rate_amount: Any,
    rate_currency: Any,
    billing: Any,
    payout_address: Any,
    notes: Any,
    campaigns: Any,
) -> dict[str, Any]:
    """Every field checked (the first wrong one named), normalised; nothing asked of X."""
    handle = username.removeprefix("@") if isinstance(username, str) else ""
    if not USERNAME.match(handle):
        raise _invalid("username", "an X handle: 1-15 letters, digits or _")
    if tier not in Kol.Tier.values:
        raise _invalid("tier", f"one of {', '.join(Kol.Tier.values)}")
    if billing not in Kol.Billing.values:
        raise _invalid("billing", f"one of {', '.join(Kol.Billing.values)}")
    if isinstance(rate_amount, bool) or not isinstance(rate_amount, int):
        raise _invalid("rate_amount", "an integer number of the currency's minor units")
    if not 0 <= rate_amount <= MAX_RATE:
        raise _invalid("rate_amount", f"between 0 and {MAX_RATE} minor units")
    if rate_currency not in currencies():
        raise _invalid("rate_currency", f"one of {', '.join(sorted(currencies()))}")
    if not isinstance(payout_address, str) or len(payout_address) > 128:
        raise _invalid("payout_address", "text of at most 128 characters")
    if not isinstance(notes, str) or len(notes) > 2000:
        raise _invalid("notes", "text of at most 2000 characters")
    return {
        "username": handle,
        "tier": tier,
        "rate_amount": rate_amount,
        "rate_currency": rate_currency,
        "billing": billing,
        "payout_address": payout_address.strip(),
        "notes": notes,
        "campaigns": _campaigns(campaigns),
    }


def _resolve(tenant: Tenant, username: str) -> tuple[int, str]:
    """(X id, handle as X spells it); 400 naming ``username`` when X has no such account.
    A read the budget or cap refuses raises ``ReadRefused`` (429)."""
    reader = XReader(tenant=tenant, priority=Priority.KOL_METRICS)
    try:
        found = reader.user_by_username(username)
    except (tweepy.TweepyException, requests.RequestException) as exc:
        logger.warning("xfeed.kol.resolve_failed", extra={"tenant": tenant.slug, "error": str(exc)})
        raise ServiceError(
            "X could not be asked about this handle; try again", code="x_unavailable", status=502
        ) from exc
    if found.data is None:
        raise ServiceError(
            f"username: X has no account @{username}", code="x_user_not_found", status=400
        )
    return int(found.data.id), str(found.data.username)


def kol_set(
    *,
    tenant: Tenant,
    username: str,
    tier: str,
    rate_amount: int,
    rate_currency: str,
    billing: str,
    payout_address: str = "",
    notes: str = "",
    campaigns: Iterable[str] = (),
    actor: Actor,
    kol_id: int | None = None,
    request: Any = None,
) -> tuple[Kol, bool]:
    """Add a KOL, or update one: (KOL, created). The handle is resolved through X; the KOL
    is the X account behind it (a KOL added again is updated, a removed one comes back).
    With ``kol_id`` the KOL must exist, be active and still be that X account."""
    community_check(tenant)
    fields = kol_validate(
        username=username,
        tier=tier,
        rate_amount=rate_amount,
        rate_currency=rate_currency,
        billing=billing,
        payout_address=payout_address,
        notes=notes,
        campaigns=campaigns,
    )
    with tenant_context(tenant):
        if kol_id is not None and not Kol.objects.filter(pk=kol_id, is_active=True).exists():
            raise ServiceError("no such KOL", code="kol_not_found", status=404)
    # X is asked outside the transaction: no row lock is held across a network call.
    x_user_id, fields["username"] = _resolve(tenant, fields["username"])
    with tenant_context(tenant), transaction.atomic():
        kol = Kol.objects.select_for_update().filter(x_user_id=x_user_id).first()
        if kol_id is not None and (kol is None or kol.pk != kol_id):
            raise _invalid("username", f"@{fields['username']} is another X account than this KOL")
        created = kol is None or not kol.is_active
        if kol is None:
            try:
                with transaction.atomic():
                    kol = Kol.objects.create(x_user_id=x_user_id, **fields)
            except IntegrityError:  # added by a concurrent request since the lookup
                raise ServiceError(
                    f"@{fields['username']} was just added; try again",
                    code="kol_conflict",
                    status=409,
                ) from None
            changed: dict[str, Any] = {}
        else:
            changed = {
                key: {"from": getattr(kol, key), "to": value}
                for key, value in fields.items()
                if getattr(kol, key) != value
            }
            for key, value in fields.items():
                setattr(kol, key, value)
            kol.is_active = True
            kol.save()
        if not created and not changed:
            return kol, False  # the same fields again: nothing to record
        history.record(
            action="xfeed.kol_added" if created else "xfeed.kol_updated",
            actor=actor,
            tenant=tenant,
            target=("kol", kol.pk),
            data={"x_user_id": x_user_id, **fields} if created else {"changed": changed},
            request=request,
        )
    logger.info(
        "xfeed.kol.set",
        extra={"tenant": tenant.slug, "kol_id": kol.pk, "added": created},
    )
    return kol, created


def kol_remove(*, tenant: Tenant, kol_id: int, actor: Actor, request: Any = None) -> Kol:
    """Stop tracking a KOL (their posts and snapshots stay for reports)."""
    community_check(tenant)
    with tenant_context(tenant), transaction.atomic():
        kol = Kol.objects.select_for_update().filter(pk=kol_id, is_active=True).first()
        if kol is None:
            raise ServiceError("no such KOL", code="kol_not_found", status=404)
        kol.is_active = False
        kol.save(update_fields=["is_active", "updated_at"])
        kol.posts.filter(next_snapshot_at__isnull=False).update(next_snapshot_at=None)
        history.record(
            action="xfeed.kol_removed",
            actor=actor,
            tenant=tenant,
            target=("kol", kol.pk),
            data={"username": kol.username, "x_user_id": kol.x_user_id},
            request=request,
        )
    logger.info("xfeed.kol.removed", extra={"tenant": tenant.slug, "kol_id": kol.pk})
    return kol
