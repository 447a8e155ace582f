"""The community's own texts for its bots' messages, per kind, language and key: plain
text with ``{variable}`` placeholders, checked by provisioner.messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

import history.services as history
from branding.models import MessageText
from branding.services.bots import custom_bots_redeploy
from branding.services.brand import brand_locked
from branding.texts import message_kind
from config.errors import ServiceError
from history.services import Actor
from provisioner.messages import MessageError, override_check

if TYPE_CHECKING:
    from tenancy.models import Tenant


def message_text_set(
    *,
    tenant: Tenant,
    kind: str,
    language: str,
    key: str,
    text: str,
    actor: Actor,
    request: Any = None,
) -> MessageText:
    """Use ``text`` for message ``key`` of ``kind`` in ``language``."""
    found = message_kind(kind=kind, key=key, language=language)
    try:
        text = override_check(kind=found, key=key, text=text)
    except MessageError as exc:
        raise ServiceError(str(exc), code="invalid_text") from None
    with transaction.atomic():
        brand_locked()  # texts make a brand: the bots speak them from now on
        entry, created = MessageText.objects.update_or_create(
            kind=kind,
            language=language,
            key=key,
            defaults={"text": text, "updated_by": int(actor.id) if actor.type == "user" else None},
        )
        history.record(
            action="brand.text_set",
            actor=actor,
            tenant=tenant,
            target=("message_text", f"{kind}.{language}.{key}"),
            data={"created": created, "length": len(text)},
            request=request,
        )
    custom_bots_redeploy(tenant=tenant, kind=kind, actor=actor)
    return entry


def message_text_revert(
    *, tenant: Tenant, kind: str, language: str, key: str, actor: Actor, request: Any = None
) -> None:
    """Go back to the kind's own text for ``key`` in ``language``."""
    message_kind(kind=kind, key=key, language=language)
    with transaction.atomic():
        deleted, _ = MessageText.objects.filter(kind=kind, language=language, key=key).delete()
        if deleted:
            history.record(
                action="brand.text_reverted",
                actor=actor,
                tenant=tenant,
                target=("message_text", f"{kind}.{language}.{key}"),
                request=request,
            )
    if deleted:
        custom_bots_redeploy(tenant=tenant, kind=kind, actor=actor)
