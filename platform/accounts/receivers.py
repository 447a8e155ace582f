"""accounts' answers to what the apps below it announce (connected in ``AppConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from accounts.services import tenant_owner_set
from history.services import Actor
from tenancy.models import Tenant
from tenancy.signals import tenant_created


@receiver(tenant_created, dispatch_uid="accounts.owner_on_tenant_created")
def name_the_first_owner(
    sender: Any, *, tenant: Tenant, owner_telegram_id: int | None, actor: Actor, **kwargs: Any
) -> None:
    """The owner named at creation is the only way into a new community (see
    ``tenancy.services.tenant_create``): made owner in the creation's transaction."""
    if owner_telegram_id is not None:
        tenant_owner_set(
            tenant=tenant,
            owner_telegram_id=owner_telegram_id,
            actor=actor,
            reason="named owner at creation",
        )
