"""``django.db.connection`` as django-tenants' database backend extends it, typed.

Django's stubs know only the base wrapper; the schema attributes and switches below are
django-tenants' (``django_tenants.postgresql_backend.base.DatabaseWrapper``), which ships
no types. ``schema_connection`` is the same per-thread proxy object, seen through them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

from django.db import connection

if TYPE_CHECKING:
    from tenancy.models import Tenant


class SchemaConnection(Protocol):
    schema_name: str
    # The Tenant last set, or django-tenants' FakeTenant after set_schema_to_public().
    tenant: object
    # The search_path the backend last set; None makes it set it again on the next query.
    search_path_set_schemas: list[str] | None

    def set_tenant(self, tenant: Tenant, include_public: bool = True) -> None: ...

    def set_schema_to_public(self) -> None: ...


schema_connection = cast("SchemaConnection", connection)
