"""Broadcasts started by a community's admins (the API): a bulk send keyed by the client's
``Idempotency-Key``, so a retried request returns the bulk send it already started.

``bulk_send_create`` (services.py) owns the bulk send and checks its input; this module
adds what a retried request needs on top of it: a key is required, a first request is told
from a replay (201 or 200), and a key reused for a different message is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from config.errors import ServiceError
from history.services import Actor
from notifications import services
from notifications.events import event_get
from notifications.models import BulkSend
from notifications.selectors import bulk_send_get_by_key


@dataclass(frozen=True)
class Started:
    bulk: BulkSend
    created: bool  # False: the key was used before, this is the bulk send it started


def _key_lock(tenant: Any, key: str) -> None:
    """Serialise requests with the same key until the caller's transaction ends: the second
    of two concurrent requests waits, then finds the first one's bulk send."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"ntf-bulk:{tenant.pk}:{key}"]
        )


def _same_request(
    bulk: BulkSend, *, text: str, audience: str, chat_id: int | None, event: str, paid: bool | None
) -> bool:
    kind = event_get(event)
    return (
        bulk.text == text
        and bulk.audience == audience
        and bulk.chat_id == chat_id
        and bulk.event == (kind.name if kind is not None else event)
        and (paid is None or bulk.paid == paid)
    )


def broadcast_start(
    *,
    tenant: Any,
    text: str,
    idempotency_key: str | None,
    actor: Actor,
    audience: str = BulkSend.Audience.TENANT,
    chat_id: int | None = None,
    event: str = "announcement",
    paid: bool | None = None,
    request: Any = None,
) -> Started:
    """Start a bulk send once per (tenant, ``idempotency_key``). The same key again returns
    the first bulk send (``created=False``) whatever happened since, provided the request is
    the same (text, audience, chat, event, and ``paid`` when given); a different one is
    refused (422 ``idempotency_key_reused``)."""
    if not idempotency_key:
        raise ServiceError(
            "send an Idempotency-Key header (e.g. a UUID) so a retried request starts nothing "
            "twice",
            code="idempotency_key_required",
        )
    with transaction.atomic():
        _key_lock(tenant, idempotency_key)
        existing = bulk_send_get_by_key(tenant=tenant, idempotency_key=idempotency_key)
        if existing is not None:
            if not _same_request(
                existing, text=text, audience=audience, chat_id=chat_id, event=event, paid=paid
            ):
                raise ServiceError(
                    "this Idempotency-Key was already used for a different broadcast",
                    code="idempotency_key_reused",
                    status=422,
                )
            return Started(bulk=existing, created=False)
        bulk = services.bulk_send_create(
            tenant=tenant,
            text=text,
            idempotency_key=idempotency_key,
            actor=actor,
            audience=audience,
            chat_id=chat_id,
            event=event,
            paid=paid,
            request=request,
        )
    return Started(bulk=bulk, created=True)
