"""Django admin for staff: the ledger, read-only. Balances, transfers, entries and holds
change only through ``wallet.services`` (double entry, idempotency, the audit record);
the database refuses changes to transfers and entries anyway (migration 0002)."""

from django.contrib import admin

from history.service_admin import ReadOnlyAdmin
from wallet.models import Account, Entry, Hold, Transfer


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "tenant",
        "owner_kind",
        "owner_id",
        "currency",
        "kind",
        "balance",
        "version",
        "is_system",
    )
    list_filter = ("owner_kind", "kind", "currency", "is_system")
    search_fields = ("=owner_id", "=tenant__slug")
    raw_id_fields = ("tenant",)
    list_select_related = ("tenant",)


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ("id", "tenant", "kind", "amount", "currency", "debit", "credit", "created_at")
    list_filter = ("kind", "currency")
    search_fields = ("=idempotency_key", "=tenant__slug")
    raw_id_fields = ("tenant", "debit", "credit", "hold")
    list_select_related = ("tenant", "debit", "credit")
    date_hierarchy = "created_at"


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "account",
        "account_version",
        "amount",
        "balance_before",
        "balance_after",
        "transfer",
    )
    search_fields = ("=account__id", "=transfer__id")
    raw_id_fields = ("account", "transfer")
    list_select_related = ("account", "transfer")


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ("id", "tenant", "reference", "currency", "amount", "remaining", "status")
    list_filter = ("status", "currency")
    search_fields = ("=reference", "=idempotency_key", "=tenant__slug")
    raw_id_fields = ("tenant", "source", "escrow")
    list_select_related = ("tenant",)
