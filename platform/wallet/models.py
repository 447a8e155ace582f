"""The ledger's tables, all in the public schema; every row names its tenant.

Double entry: money never appears or vanishes. A ``Transfer`` moves ``amount`` from its
debit account to its credit account and writes two ``Entry`` rows (-amount, +amount)
with each account's balance before and after and its new version, so every account's
entries form an unbroken chain that adds up to its stored balance. Transfers and entries
are append-only in the database (migration 0002). Money enters and leaves through
*system* accounts (``external`` and ``fees`` kinds, platform accounts), the only ones
allowed below zero; so each currency sums to zero over all accounts.

Balances, versions and a hold's state change only through ``wallet.services``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

MAX_KEY = 200  # an idempotency key as callers give it
_STORED_KEY = 255  # room for the suffixes of the transfers an operation derives


class Account(models.Model):
    class OwnerKind(models.TextChoices):
        PLATFORM = "platform"  # owner_id 0; no tenant
        TENANT = "tenant"  # owner_id: the tenant's id
        GROUP = "group"  # owner_id: the Telegram chat id
        USER = "user"  # owner_id: the Telegram user id

    class Kind(models.TextChoices):
        AVAILABLE = "available"  # spendable
        ESCROW = "escrow"  # held for open holds (raid budgets)
        EXTERNAL = "external"  # the outside world: deposits come from it, withdrawals go to it
        FEES = "fees"  # what the platform or a tenant earns

    tenant = models.ForeignKey(
        "tenancy.Tenant", null=True, on_delete=models.PROTECT, related_name="+"
    )
    owner_kind = models.CharField(max_length=10, choices=OwnerKind.choices)
    owner_id = models.BigIntegerField()
    currency = models.CharField(max_length=10)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    balance = models.BigIntegerField(default=0)
    version = models.BigIntegerField(default=0)  # entries written so far
    is_system = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "owner_kind", "owner_id", "currency", "kind"],
                nulls_distinct=False,  # one platform account per currency and kind too
                name="wallet_account_unique_owner",
            ),
            # The services refuse first; this is the last line of defence.
            models.CheckConstraint(
                condition=Q(is_system=True) | Q(balance__gte=0), name="wallet_account_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(owner_kind="platform", tenant__isnull=True, owner_id=0, is_system=True)
                | (~Q(owner_kind="platform") & Q(tenant__isnull=False)),
                name="wallet_account_platform_has_no_tenant",
            ),
            models.CheckConstraint(condition=Q(version__gte=0), name="wallet_account_version"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_kind}:{self.owner_id} {self.kind} {self.currency}"


class Hold(models.Model):
    """Money set aside from a group's available account into its escrow account (a raid's
    budget), later settled (payouts, the rest back) or cancelled (all back)."""

    class Status(models.TextChoices):
        OPEN = "open"
        SETTLED = "settled"
        CANCELLED = "cancelled"

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    source = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    escrow = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=10)
    amount = models.BigIntegerField()
    remaining = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    reference = models.CharField(max_length=100, blank=True)  # e.g. "raid:42"
    idempotency_key = models.CharField(max_length=MAX_KEY)
    # The settle or cancel that closed it: its key and a digest of its request, so a
    # replay is recognised and a different request under the same key refused.
    close_key = models.CharField(max_length=MAX_KEY, blank=True)
    close_digest = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="wallet_hold_key"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="wallet_hold_amount"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0, remaining__lte=F("amount")),
                name="wallet_hold_remaining",
            ),
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True)
                | (~Q(status="open") & Q(closed_at__isnull=False, remaining=0)),
                name="wallet_hold_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"hold {self.pk} {self.reference} {self.status}"


class Transfer(models.Model):
    class Kind(models.TextChoices):
        DEPOSIT = "deposit"  # external → available
        HOLD = "hold"  # group available → group escrow
        RELEASE = "release"  # escrow → its source (a cancelled hold, a settlement's rest)
        PAYOUT = "payout"  # escrow → a user
        REFUND = "refund"  # money given back the way it came (e.g. a deposit refunded)
        WITHDRAWAL = "withdrawal"  # available → external
        FEE = "fee"  # → a fees account
        ADJUSTMENT = "adjustment"  # a correction made by staff

    # NULL only between platform accounts.
    tenant = models.ForeignKey(
        "tenancy.Tenant", null=True, on_delete=models.PROTECT, related_name="+"
    )
    # No index of their own: statements read entries (indexed by account and version).
    debit = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    credit = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=10)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=_STORED_KEY)
    metadata = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    hold = models.ForeignKey(
        Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="transfers"
    )

    # Set by the service that returns it: True when the key had been used (nothing moved).
    replayed: bool = False

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                nulls_distinct=False,  # platform-level keys are unique among themselves
                name="wallet_transfer_key",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="wallet_transfer_amount"),
            models.CheckConstraint(
                condition=~Q(debit=F("credit")), name="wallet_transfer_two_accounts"
            ),
        ]

    def __str__(self) -> str:
        return f"transfer {self.pk} {self.kind} {self.amount} {self.currency}"


class Entry(models.Model):
    """One side of a transfer on one account: ``account_version`` counts the account's
    entries (1, 2, ...), ``balance_after`` of one is ``balance_before`` of the next."""

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    amount = models.BigIntegerField()  # signed: negative on the debit side
    balance_before = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    account_version = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "entries"
        constraints = [
            # Also the index statements page through (keyset on the version).
            models.UniqueConstraint(
                fields=["account", "account_version"], name="wallet_entry_account_version"
            ),
            models.CheckConstraint(
                condition=Q(balance_after=F("balance_before") + F("amount")) & ~Q(amount=0),
                name="wallet_entry_arithmetic",
            ),
        ]

    def __str__(self) -> str:
        return f"entry {self.pk} of account {self.account_id} v{self.account_version}"


# --- Telegram Stars deposits (wallet.services.stars) ---------------------------------


class StarsTopUp(models.Model):
    """A request to top up a group with Stars: the invoice a bot sent. Its random
    ``token`` is the invoice payload, so a pre-checkout query or a successful payment is
    matched to this row (tenant, group, requester, amount, sending bot), never to what
    the update claims about them."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    chat_id = models.BigIntegerField()  # the group credited
    requested_by = models.BigIntegerField()  # Telegram user id of the admin who asked
    bot_id = models.BigIntegerField()  # the bot that sent the invoice: only it is paid
    amount = models.BigIntegerField()  # Stars
    token = models.CharField(max_length=64, unique=True)
    invoice_chat_id = models.BigIntegerField()  # where the invoice was sent
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="wallet_starstopup_amount")
        ]

    def __str__(self) -> str:
        return f"stars top-up {self.pk} of {self.chat_id}: {self.amount}"


class StarsDeposit(models.Model):
    """A Stars payment Telegram confirmed, credited to a group once (keyed by
    ``charge_id``), and what became of it: refunded by an admin, or refunded outside the
    platform (found by reconciliation) and reversed."""

    class Status(models.TextChoices):
        CREDITED = "credited"
        REFUNDED = "refunded"  # an admin refunded it through the platform
        REVERSED = "reversed"  # refunded outside the platform; the credit reversed

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    topup = models.ForeignKey(StarsTopUp, on_delete=models.PROTECT, related_name="deposits")
    chat_id = models.BigIntegerField()
    bot_id = models.BigIntegerField()
    payer_id = models.BigIntegerField()
    amount = models.BigIntegerField()
    charge_id = models.CharField(max_length=255, unique=True)  # telegram_payment_charge_id
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREDITED)
    credit = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="+")
    reversal = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # What a reversal could not take back (the group had spent it): owed, group frozen.
    shortfall = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    # Set by stars_payment_credit: True when the charge had been credited before.
    replayed: bool = False

    class Meta:
        indexes = [models.Index(fields=["bot_id", "created_at"], name="wallet_starsdep_bot")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="wallet_starsdeposit_amount"),
            models.CheckConstraint(
                condition=Q(shortfall__gte=0, shortfall__lte=F("amount")),
                name="wallet_starsdeposit_shortfall",
            ),
        ]

    def __str__(self) -> str:
        return f"stars deposit {self.pk} ({self.status})"


class Freeze(models.Model):
    """An owner whose spending is stopped (no new holds) until staff lift it: a group
    whose refunded deposit could not be taken back in full."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    owner_kind = models.CharField(max_length=10, choices=Account.OwnerKind.choices)
    owner_id = models.BigIntegerField()
    reason = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "owner_kind", "owner_id"],
                condition=Q(lifted_at__isnull=True),
                name="wallet_freeze_one_active",
            )
        ]

    def __str__(self) -> str:
        return f"freeze of {self.owner_kind}:{self.owner_id}"
