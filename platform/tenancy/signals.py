"""What tenancy announces to the apps above it, which it must not import.

``tenant_created`` is sent inside the transaction of ``tenancy.services.tenant_create``,
after ``tenant.created`` is recorded, with ``tenant``, ``owner_telegram_id`` (the first
owner, already checked to be a user id; None: nobody named) and ``actor``. accounts
names the owner (``accounts.receivers``). A receiver's writes commit or roll back with
the tenant; an exception it raises fails the creation (sent with ``send``, not
``send_robust``)."""

from __future__ import annotations

from django.dispatch import Signal

tenant_created = Signal()
