"""Reads of the ledger: balances, statements, transfers by key, and the consistency
checks ``manage.py wallet verify`` runs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet

from accounts.roles import Capability, Role, effective_capabilities
from accounts.selectors import membership_list, user_capabilities, user_with_membership
from botruntime.selectors import platform_bot_id
from config.errors import ServiceError
from tenancy.models import ChatBinding, Tenant
from tenancy.selectors import tenant_bots
from wallet.currencies import currencies
from wallet.errors import WalletError
from wallet.models import (
    Account,
    Entry,
    Freeze,
    StarsDeposit,
    StarsTopUp,
    Transfer,
    Withdrawal,
    WithdrawalPolicy,
)
from wallet.providers import provider_default
from wallet.references import reference_for

if TYPE_CHECKING:
    from accounts.models import TelegramUser

MAX_PAGE = 200


def balances(*, tenant: Tenant | None, owner_kind: str, owner_id: int) -> dict[str, dict[str, int]]:
    """An owner's balances: currency → account kind → minor units (accounts that exist)."""
    result: dict[str, dict[str, int]] = {}
    rows = Account.objects.filter(tenant=tenant, owner_kind=owner_kind, owner_id=owner_id)
    for currency, kind, balance in rows.values_list("currency", "kind", "balance"):
        result.setdefault(currency, {})[kind] = balance
    return result


def transfer_by_key(*, tenant: Tenant | None, idempotency_key: str) -> Transfer | None:
    return Transfer.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()


@dataclass(frozen=True)
class StatementLine:
    entry_id: int
    version: int  # the account's entry number: the keyset cursor
    transfer_id: int
    kind: str
    amount: int  # signed
    balance_after: int
    counterparty_id: int
    created_at: datetime
    metadata: dict[str, Any]


@dataclass(frozen=True)
class StatementPage:
    lines: list[StatementLine]
    next_cursor: int | None  # pass as ``before`` for the next (older) page


def account_statement(
    *,
    account: Account,
    kinds: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    counterparty: Account | None = None,
    before: int | None = None,
    limit: int = 50,
) -> StatementPage:
    """The account's entries, newest first, ``limit`` at a time. Keyset pagination on the
    account's entry number (unique per account, indexed), so a page costs the same deep
    in the history as at its top, and entries posted meanwhile never shift a page.
    Filters: transfer kinds, ``since <= created_at < until``, the other account."""
    limit = max(1, min(limit, MAX_PAGE))
    entries = statement_entries(
        account=account, kinds=kinds, since=since, until=until, counterparty=counterparty
    )
    if before is not None:
        entries = entries.filter(account_version__lt=before)
    page = list(entries.order_by("-account_version")[: limit + 1])
    lines = statement_lines(account=account, entries=page[:limit])
    more = len(page) > limit
    return StatementPage(lines=lines, next_cursor=lines[-1].version if more else None)


def statement_entries(
    *,
    account: Account,
    kinds: Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    counterparty: Account | None = None,
) -> QuerySet[Entry]:
    """The account's entries matching a statement's filters (unordered, with their
    transfers): what ``account_statement`` and the API's cursor pages read. Ordered by
    ``-account_version`` they page as a keyset: the version is unique per account and
    given in commit order (the account's row is locked while an entry is written)."""
    entries = Entry.objects.filter(account=account).select_related("transfer")
    if kinds:
        entries = entries.filter(transfer__kind__in=list(kinds))
    if since is not None:
        entries = entries.filter(transfer__created_at__gte=since)
    if until is not None:
        entries = entries.filter(transfer__created_at__lt=until)
    if counterparty is not None:
        entries = entries.filter(Q(transfer__debit=counterparty) | Q(transfer__credit=counterparty))
    return entries


def statement_lines(*, account: Account, entries: Iterable[Entry]) -> list[StatementLine]:
    """Entries of ``account`` (read with their transfers) as statement lines."""
    return [
        StatementLine(
            entry_id=entry.pk,
            version=entry.account_version,
            transfer_id=entry.transfer_id,
            kind=entry.transfer.kind,
            amount=entry.amount,
            balance_after=entry.balance_after,
            counterparty_id=(
                entry.transfer.credit_id
                if entry.transfer.debit_id == account.pk
                else entry.transfer.debit_id
            ),
            created_at=entry.transfer.created_at,
            metadata=entry.transfer.metadata,
        )
        for entry in entries
    ]


def statement_iter(
    *,
    account: Account,
    kinds: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    counterparty: Account | None = None,
) -> Iterator[list[StatementLine]]:
    """The whole statement, newest first, one page of at most ``MAX_PAGE`` lines at a time
    (a query per page, no long-lived cursor): for exports of any length in bounded memory.
    Entries posted while it runs come after its first page's and are not included."""
    before = None
    while True:
        page = account_statement(
            account=account,
            kinds=kinds,
            since=since,
            until=until,
            counterparty=counterparty,
            before=before,
            limit=MAX_PAGE,
        )
        if page.lines:
            yield page.lines
        if page.next_cursor is None:
            return
        before = page.next_cursor


def account_find(
    *, tenant: Tenant | None, owner_kind: str, owner_id: int, currency: str, kind: str
) -> Account | None:
    """The account if it exists (reads never create one)."""
    return Account.objects.filter(
        tenant=tenant, owner_kind=owner_kind, owner_id=owner_id, currency=currency, kind=kind
    ).first()


def account_label(account: Account) -> str:
    """``<owner kind>:<owner id>:<account kind>``, e.g. ``group:-100123:escrow``: how the
    API names an account (a statement's counterparty, and its filter)."""
    return f"{account.owner_kind}:{account.owner_id}:{account.kind}"


def account_labels(*, account_ids: Iterable[int]) -> dict[int, str]:
    """Labels (see ``account_label``) of the given accounts, in one query."""
    rows = Account.objects.filter(pk__in=set(account_ids)).only("owner_kind", "owner_id", "kind")
    return {account.pk: account_label(account) for account in rows}


# --- Consistency (manage.py wallet verify) ------------------------------------------

_CHECKS: list[tuple[str, str]] = [
    (
        "row naming an account or transfer that does not exist (table, id)",
        """SELECT 'wallet_transfer', t.id FROM wallet_transfer t
            WHERE NOT EXISTS (SELECT 1 FROM wallet_account a WHERE a.id = t.debit_id)
               OR NOT EXISTS (SELECT 1 FROM wallet_account a WHERE a.id = t.credit_id)
           UNION ALL
           SELECT 'wallet_entry', e.id FROM wallet_entry e
            WHERE NOT EXISTS (SELECT 1 FROM wallet_account a WHERE a.id = e.account_id)
               OR NOT EXISTS (SELECT 1 FROM wallet_transfer t WHERE t.id = e.transfer_id)
           LIMIT 1""",
    ),
    (
        "transfer without exactly two balancing entries",
        """SELECT t.id, count(e.id), coalesce(sum(e.amount), 0)
             FROM wallet_transfer t LEFT JOIN wallet_entry e ON e.transfer_id = t.id
            GROUP BY t.id
           HAVING count(e.id) <> 2 OR coalesce(sum(e.amount), 0) <> 0
               OR bool_or(e.account_id = t.debit_id AND e.amount <> -t.amount) IS TRUE
               OR bool_or(e.account_id = t.credit_id AND e.amount <> t.amount) IS TRUE
               OR bool_or(e.account_id NOT IN (t.debit_id, t.credit_id)) IS TRUE
            ORDER BY t.id LIMIT 1""",
    ),
    (
        "account whose balance or version is not the sum or count of its entries",
        """SELECT a.id, a.balance, coalesce(s.total, 0), a.version, coalesce(s.n, 0)
             FROM wallet_account a
             LEFT JOIN (SELECT account_id, sum(amount) AS total, count(*) AS n
                          FROM wallet_entry GROUP BY account_id) s ON s.account_id = a.id
            WHERE a.balance <> coalesce(s.total, 0) OR a.version <> coalesce(s.n, 0)
            ORDER BY a.id LIMIT 1""",
    ),
    (
        "currency whose accounts do not sum to zero",
        """SELECT currency, sum(balance) FROM wallet_account
            GROUP BY currency HAVING sum(balance) <> 0 ORDER BY currency LIMIT 1""",
    ),
    (
        "broken entry chain (account, version, balance before, previous balance after)",
        """SELECT account_id, account_version, balance_before, prev_after
             FROM (SELECT account_id, account_version, amount, balance_before, balance_after,
                          lag(balance_after) OVER w AS prev_after,
                          lag(account_version) OVER w AS prev_version
                     FROM wallet_entry
                   WINDOW w AS (PARTITION BY account_id ORDER BY account_version)) c
            WHERE balance_after <> balance_before + amount
               OR (prev_version IS NULL AND (account_version <> 1 OR balance_before <> 0))
               OR (prev_version IS NOT NULL
                   AND (account_version <> prev_version + 1 OR balance_before <> prev_after))
            ORDER BY account_id, account_version LIMIT 1""",
    ),
    (
        "negative balance on an account that is not a system account",
        """SELECT id, balance FROM wallet_account WHERE NOT is_system AND balance < 0
            ORDER BY id LIMIT 1""",
    ),
    (
        "escrow account holding other than its open holds' remainders",
        """SELECT a.id, a.balance, coalesce(h.open, 0)
             FROM wallet_account a
             LEFT JOIN (SELECT escrow_id, sum(remaining) AS open FROM wallet_hold
                         WHERE status = 'open' GROUP BY escrow_id) h ON h.escrow_id = a.id
            WHERE a.kind = 'escrow' AND a.balance <> coalesce(h.open, 0)
            ORDER BY a.id LIMIT 1""",
    ),
]


@dataclass(frozen=True)
class LedgerCheck:
    accounts: int
    transfers: int
    entries: int
    problem: str | None  # the first discrepancy found, None when consistent


def ledger_check() -> LedgerCheck:
    """Every invariant of the ledger over all stored rows; stops at the first failure."""
    problem = None
    with connection.cursor() as cursor:
        for name, sql in _CHECKS:
            cursor.execute(sql)
            row = cursor.fetchone()
            if row is not None:
                problem = f"{name}: {', '.join(str(value) for value in row)}"
                break
        cursor.execute(
            "SELECT (SELECT count(*) FROM wallet_account), (SELECT count(*) FROM wallet_transfer),"
            " (SELECT count(*) FROM wallet_entry)"
        )
        accounts, transfers, entries = cursor.fetchone()
    return LedgerCheck(accounts=accounts, transfers=transfers, entries=entries, problem=problem)


# --- Provider deposits and withdrawals -------------------------------------------------


@dataclass(frozen=True)
class PayTo:
    currency: str
    pay_to: str
    memo: str


@dataclass(frozen=True)
class DepositInstructions:
    chat_id: int
    title: str
    provider: str
    reference: str  # names the tenant and group unforgeably (wallet.references)
    currencies: list[PayTo]


def deposit_instructions(
    *, tenant: Tenant, chat_id: int, title: str, currency: str | None = None
) -> DepositInstructions:
    """Where to pay each currency (or only ``currency``) so it reaches the group
    ``chat_id`` of ``tenant`` (the caller has checked that the group is the tenant's)."""
    if currency is not None and currency not in currencies():
        raise WalletError(f"unknown currency {currency!r}", code="unknown_currency")
    provider = provider_default()
    if provider is None:
        raise WalletError("no payment provider is configured", code="no_provider")
    reference = reference_for(tenant_id=tenant.pk, chat_id=chat_id)
    shown = []
    for code in [currency] if currency else list(currencies()):
        where = provider.deposit_instructions(reference=reference, currency=code)
        shown.append(PayTo(currency=code, pay_to=where["pay_to"], memo=where["memo"]))
    return DepositInstructions(
        chat_id=chat_id, title=title, provider=provider.name, reference=reference, currencies=shown
    )


def withdrawal_not_found(withdrawal_id: object) -> ServiceError:
    return ServiceError(f"no withdrawal {withdrawal_id}", code="withdrawal_not_found", status=404)


def withdrawal_list(
    *, tenant: Tenant, user_id: int | None = None, status: str | None = None
) -> QuerySet[Withdrawal]:
    """A tenant's withdrawals (one user's, or in one status), newest first."""
    found = Withdrawal.objects.filter(tenant=tenant)
    if user_id is not None:
        found = found.filter(user_id=user_id)
    if status:
        found = found.filter(status=status)
    return found.order_by("-created_at", "-id")


def withdrawal_get(*, tenant: Tenant, withdrawal_id: int, user_id: int | None = None) -> Withdrawal:
    """One withdrawal of the tenant (of ``user_id`` when given); 404 otherwise, the same
    for another tenant's or another user's as for none."""
    found = withdrawal_list(tenant=tenant, user_id=user_id).filter(pk=withdrawal_id).first()
    if found is None:
        raise withdrawal_not_found(withdrawal_id)
    return found


def withdrawal_policies(*, tenant: Tenant) -> QuerySet[WithdrawalPolicy]:
    return WithdrawalPolicy.objects.filter(tenant=tenant).order_by("currency")


# --- Telegram Stars deposits ---------------------------------------------------------

STARS_PAYLOAD_PREFIX = "topup:"


def stars_topup_by_payload(*, payload: str) -> StarsTopUp | None:
    """The top-up an invoice payload names (``topup:<token>``), with its tenant; None for
    a payload the platform never issued."""
    if not payload.startswith(STARS_PAYLOAD_PREFIX):
        return None
    token = payload.removeprefix(STARS_PAYLOAD_PREFIX)
    return StarsTopUp.objects.select_related("tenant").filter(token=token).first()


def stars_deposit_by_charge(*, charge_id: str) -> StarsDeposit | None:
    return StarsDeposit.objects.select_related("tenant").filter(charge_id=charge_id).first()


def stars_deposit_get(*, tenant: Tenant, chat_id: int, deposit_id: int) -> StarsDeposit:
    """The group's deposit; 404 ``deposit_not_found`` for another group's or tenant's."""
    found = StarsDeposit.objects.filter(tenant=tenant, chat_id=chat_id, pk=deposit_id).first()
    if found is None:
        raise ServiceError(
            f"no Stars deposit {deposit_id} in this group", code="deposit_not_found", status=404
        )
    return found


def stars_bots() -> list[tuple[Tenant, int]]:
    """(tenant, bot id) of every bot that ever sent a top-up invoice, of tenants not
    deleted (their bots are gone): the bots whose Stars transactions reconciliation reads."""
    pairs = StarsTopUp.objects.values_list("tenant_id", "bot_id").distinct().order_by("bot_id")
    tenants = Tenant.objects.in_bulk({tenant_id for tenant_id, _ in pairs})  # not deleted
    return [(tenants[tenant_id], bot_id) for tenant_id, bot_id in pairs if tenant_id in tenants]


def bot_token_get(*, tenant: Tenant, bot_id: int) -> str | None:
    """The token of ``bot_id``, a bot of ``tenant`` or the platform bot; None when the
    platform cannot act as that bot (unknown, inactive, token not stored)."""
    if bot_id == platform_bot_id():
        return settings.PLATFORM_BOT_TOKEN or None
    for found, token in tenant_bots(tenant=tenant):
        if found == bot_id and token:
            return token
    return None


def group_bot_id(*, binding: ChatBinding) -> int | None:
    """The bot that serves a bound group: the one that bound it, else the platform bot."""
    if binding.bot is None:
        return platform_bot_id()
    return binding.bot.telegram_id if binding.bot.is_active else None


def is_frozen(*, tenant: Tenant | int, owner_kind: str, owner_id: int) -> bool:
    """Whether the owner's spending is frozen (wallet.services.spending_freeze)."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    return Freeze.objects.filter(
        tenant_id=tenant_id, owner_kind=owner_kind, owner_id=owner_id, lifted_at__isnull=True
    ).exists()


def funds_admins(*, tenant: Tenant) -> list[TelegramUser]:
    """The community's people who may manage its funds (owner and admins, with the
    ``manage_funds`` capability not revoked): who hears of its groups' deposits."""
    return [
        membership.user
        for membership in membership_list(tenant=tenant, roles=[Role.OWNER, Role.ADMIN])
        if Capability.MANAGE_FUNDS
        in effective_capabilities(membership.role, membership.granted, membership.revoked)
    ]


def can_manage_funds(*, tenant: Tenant, telegram_id: int) -> bool:
    """Whether the user holds ``manage_funds`` in the tenant (staff always do)."""
    user = user_with_membership(telegram_id=telegram_id, tenant=tenant)
    if user is None:
        return False
    return Capability.MANAGE_FUNDS in user_capabilities(tenant=tenant, user=user)


def withdrawal_destinations(*, tenant: Tenant, user_ids: list[int]) -> dict[int, set[str]]:
    """The destinations each of these Telegram users asked this tenant to pay out to (any
    status): anti-fraud reads one person behind several accounts from a shared one."""
    found: dict[int, set[str]] = {}
    rows = Withdrawal.objects.filter(tenant=tenant, user_id__in=user_ids)
    for user_id, destination in rows.values_list("user_id", "destination").distinct():
        found.setdefault(user_id, set()).add(destination)
    return found
