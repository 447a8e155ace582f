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
    """Money set aside from a group's or a user's available account into its escrow account
    (a raid's budget, a withdrawal on its way out), later settled (payouts, the rest back)
    or cancelled (all back)."""

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

    # References without a database foreign key (here and in Entry): every row is written
    # by wallet_transfer_post, which locks the accounts it names and refuses a missing
    # one, and nothing they name can be deleted (accounts, transfers: triggers; tenants:
    # kept when deleted). A key check would re-read each of them on every transfer and put
    # a share lock on the tenant's row, which concurrent transfers of one tenant would
    # turn into multixacts. `wallet verify` checks that every reference resolves.
    # tenant is NULL only between platform accounts; the key constraint indexes it.
    tenant = models.ForeignKey(
        "tenancy.Tenant",
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # No index of their own: statements read entries (indexed by account and version).
    debit = models.ForeignKey(
        Account, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    credit = models.ForeignKey(
        Account, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=10)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=_STORED_KEY)
    metadata = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    hold = models.ForeignKey(
        Hold,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfers",
        db_index=False,  # a partial index below: most transfers belong to no hold
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
        indexes = [
            models.Index(
                fields=["hold"], condition=Q(hold__isnull=False), name="wallet_transfer_hold"
            ),
        ]

    def __str__(self) -> str:
        return f"transfer {self.pk} {self.kind} {self.amount} {self.currency}"


class Entry(models.Model):
    """One side of a transfer on one account: ``account_version`` counts the account's
    entries (1, 2, ...), ``balance_after`` of one is ``balance_before`` of the next."""

    # No database foreign keys: see Transfer.
    transfer = models.ForeignKey(
        Transfer, on_delete=models.DO_NOTHING, related_name="entries", db_constraint=False
    )
    account = models.ForeignKey(
        Account, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
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


# --- Provider deposits and withdrawals -------------------------------------------------


class ProviderEvent(models.Model):
    """Every delivery to a payment provider's webhook, accepted or refused: what came, from
    which provider, and what became of it. A credited deposit event is unique per provider
    (the event id is the idempotency key), so a duplicate delivery credits nothing more."""

    class Outcome(models.TextChoices):
        CREDITED = "credited"  # a deposit credited to a group
        DUPLICATE = "duplicate"  # the same event again: nothing moved
        PAYOUT = "payout"  # a payout's outcome, applied to its withdrawal
        IGNORED = "ignored"  # a signed event of a type we do not act on
        REFUSED = "refused"  # a 4xx: bad signature, stale, unknown group, malformed, ...

    provider = models.CharField(max_length=40)
    event_id = models.CharField(max_length=255, blank=True)
    event_type = models.CharField(max_length=60, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    code = models.CharField(max_length=40, blank=True)  # why it was refused
    tenant = models.ForeignKey(
        "tenancy.Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    chat_id = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=10, blank=True)
    amount = models.BigIntegerField(null=True, blank=True)
    transfer = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    body_sha256 = models.CharField(max_length=64)
    remote_addr = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"],
                condition=Q(outcome="credited"),
                name="wallet_provider_event_credited_once",
            )
        ]
        indexes = [models.Index(fields=["provider", "event_id"], name="wallet_pevent_id")]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id} {self.outcome}"


class WithdrawalPolicy(models.Model):
    """A tenant's rules for one currency's withdrawals: above ``approval_above`` an admin
    with manage_funds approves first; ``daily_limit`` caps what one user withdraws per UTC
    day. No row, or None: no approval, no limit."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    currency = models.CharField(max_length=10)
    approval_above = models.BigIntegerField(null=True, blank=True)
    daily_limit = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "currency"], name="wallet_wpolicy_unique"),
            models.CheckConstraint(
                condition=Q(approval_above__isnull=True) | Q(approval_above__gte=0),
                name="wallet_wpolicy_approval",
            ),
            models.CheckConstraint(
                condition=Q(daily_limit__isnull=True) | Q(daily_limit__gte=0),
                name="wallet_wpolicy_limit",
            ),
        ]

    def __str__(self) -> str:
        return f"withdrawal policy {self.tenant_id} {self.currency}"


class Withdrawal(models.Model):
    """A user's reward money on its way out: held at once (``hold``), paid by a provider in
    a job (idempotency key: the withdrawal's id), then settled or released."""

    class Status(models.TextChoices):
        PENDING_APPROVAL = "pending_approval"  # above the threshold: an admin decides
        QUEUED = "queued"  # the payout job will send it
        SENDING = "sending"  # asked of the provider; its outcome is awaited
        PAID = "paid"  # the hold settled to the outside world
        FAILED = "failed"  # the provider failed or refused it: the hold released
        REJECTED = "rejected"  # an admin refused it: the hold released

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    user_id = models.BigIntegerField()  # the Telegram id
    currency = models.CharField(max_length=10)
    amount = models.BigIntegerField()
    destination = models.CharField(max_length=256)
    status = models.CharField(max_length=20, choices=Status.choices)
    provider = models.CharField(max_length=40)
    hold = models.ForeignKey(Hold, null=True, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=MAX_KEY)
    payout_id = models.CharField(max_length=128, blank=True)
    failure_code = models.CharField(max_length=60, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    decided_by = models.CharField(max_length=40, blank=True)  # "user:<id>" who approved
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user_id", "idempotency_key"], name="wallet_withdrawal_key"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="wallet_withdrawal_amount"),
        ]
        indexes = [
            models.Index(fields=["tenant", "user_id", "created_at"], name="wallet_wd_user"),
            models.Index(fields=["tenant", "status"], name="wallet_wd_status"),
        ]

    def __str__(self) -> str:
        return f"withdrawal {self.pk} {self.status}"


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
