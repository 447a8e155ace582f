"""The brand's logo: an upload checked and re-encoded (``branding.logo``), kept as
square WebP variants on the brand."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

import history.services as history
from branding.logo import LogoError, logo_variants
from branding.models import Brand
from branding.services.brand import brand_locked
from config.errors import ServiceError
from history.services import Actor

if TYPE_CHECKING:
    from tenancy.models import Tenant


def brand_logo_set(*, tenant: Tenant, data: bytes, actor: Actor, request: Any = None) -> Brand:
    """Replace the logo with ``data`` (PNG, JPEG or WebP, at most 2 MB); nothing is
    stored when it is refused."""
    try:
        logo = logo_variants(data)
    except LogoError as exc:
        raise ServiceError(exc.message, code=exc.code, status=exc.status) from None
    with transaction.atomic():
        brand = brand_locked()
        brand.logo_sha256 = logo.sha256
        brand.logo_512, brand.logo_128, brand.logo_64 = (logo.variants[s] for s in (512, 128, 64))
        brand.save()
        history.record(
            action="brand.logo_set",
            actor=actor,
            tenant=tenant,
            target=("brand", brand.pk),
            data={"sha256": logo.sha256, "bytes": len(data)},
            request=request,
        )
    return brand


def brand_logo_remove(*, tenant: Tenant, actor: Actor, request: Any = None) -> None:
    with transaction.atomic():
        removed = (
            Brand.objects.filter(pk=Brand.SINGLETON)
            .exclude(logo_sha256="")
            .update(logo_sha256="", logo_512=None, logo_128=None, logo_64=None)
        )
        if removed:
            history.record(
                action="brand.logo_removed",
                actor=actor,
                tenant=tenant,
                target=("brand", Brand.SINGLETON),
                request=request,
            )
