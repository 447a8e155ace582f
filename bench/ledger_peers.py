"""The two peers `wallet_transfer` measures the wallet against, each on its own
connection (psycopg2, as Django's backend) in the benchmark's scratch database:

- pgledger, a double-entry ledger written in PL/pgSQL (accounts with balance and version,
  one transfer row and two entry rows per transfer, rows locked in id order), loaded at
  benchmark time from the baselines kept beside the project (``common.baseline_dir``) into
  a schema of its own; it is never copied into the project;
- raw SQL, the least a double entry can be: both balance rows locked in primary-key
  order, two UPDATEs and one INSERT in one transaction; a CHECK keeps balances
  non-negative, which is the guarantee the wallet gives its non-system accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import psycopg2
from psycopg2.extensions import connection as Connection

from bench.common import baseline_dir

PGLEDGER_SCHEMA = "pgledger"
RAW_SCHEMA = "bench_raw"
_TRANSFER = "SELECT id FROM pgledger_create_transfer(%s, %s, %s)"
# The install order the baselines' README gives: ULID helpers first, then the ledger.
PGLEDGER_FILES = (
    "vendor/scoville-pgsql-ulid/ulid-to-uuid.sql",
    "vendor/scoville-pgsql-ulid/uuid-to-ulid.sql",
    "pgledger.sql",
)


def pgledger_source() -> Path:
    source = baseline_dir("pgledger")
    if source is None:
        raise RuntimeError(
            "pgledger baseline not found: expected ../shared/baselines/pgledger beside the "
            "checkout, or set BRAGABOT_BASELINES to the folder holding pgledger/"
        )
    return source


# --- pgledger ---------------------------------------------------------------------------


def pgledger_connect(url: str) -> Connection:
    """A connection whose search path finds pgledger's unqualified tables and functions;
    autocommit, so each ``pgledger_create_transfer`` call is one transaction of its own
    (one round trip, the way the ledger is meant to be called)."""
    conn = psycopg2.connect(url, options=f"-c search_path={PGLEDGER_SCHEMA}")
    conn.autocommit = True
    return conn


def pgledger_install(url: str, source: Path) -> None:
    conn = psycopg2.connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {PGLEDGER_SCHEMA}")
            cursor.execute(f"SET search_path TO {PGLEDGER_SCHEMA}")
            for name in PGLEDGER_FILES:
                cursor.execute((source / name).read_text())
    finally:
        conn.close()


def pgledger_accounts(conn: Connection, *, prefix: str, count: int) -> list[str]:
    """``count`` accounts that may not go negative (as the wallet's user accounts)."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT a.id FROM generate_series(1, %s) AS n, "
            "LATERAL pgledger_create_account(%s || n, 'XTR', false, true) AS a ORDER BY n",
            [count, f"{prefix}-"],
        )
        return [row[0] for row in cursor.fetchall()]


def pgledger_source_account(conn: Connection, *, name: str) -> str:
    """Where deposits come from: allowed to go negative (the wallet's "external")."""
    with conn.cursor() as cursor:
        cursor.execute("SELECT id FROM pgledger_create_account(%s, 'XTR', true, true)", [name])
        return str(cursor.fetchone()[0])


def pgledger_fund(conn: Connection, *, source: str, accounts: Sequence[str], amount: int) -> None:
    with conn.cursor() as cursor:
        for account in accounts:
            cursor.execute(_TRANSFER, [source, account, amount])


def pgledger_transfer(conn: Connection, debit: str, credit: str, amount: int) -> None:
    with conn.cursor() as cursor:
        cursor.execute(_TRANSFER, [debit, credit, amount])
        cursor.fetchone()


def pgledger_batch(conn: Connection, *, debit: str, credits: Sequence[str], amount: int) -> int:
    """One ``pgledger_create_transfers`` call moving ``amount`` to each of ``credits``."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pgledger_create_transfers("
            "  ARRAY(SELECT ROW(%s, c, %s)::transfer_request FROM unnest(%s::text[]) AS c))",
            [debit, amount, list(credits)],
        )
        return int(cursor.fetchone()[0])


def pgledger_totals(conn: Connection) -> tuple[int, int]:
    """(sum of all balances, transfers recorded): the sum is 0 when money was conserved."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT coalesce(sum(balance), 0) FROM pgledger_accounts), "
            "(SELECT count(*) FROM pgledger_transfers)"
        )
        total, transfers = cursor.fetchone()
        return int(total), int(transfers)


# --- raw SQL ----------------------------------------------------------------------------


def raw_connect(url: str) -> Connection:
    """Not autocommit: psycopg2 opens the transaction, ``commit`` ends it (as Django's
    ``transaction.atomic`` does on the same driver)."""
    return psycopg2.connect(url)


def raw_install(url: str) -> None:
    conn = psycopg2.connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(
                f"""
                CREATE SCHEMA {RAW_SCHEMA};
                CREATE TABLE {RAW_SCHEMA}.account (
                    id bigserial PRIMARY KEY,
                    balance bigint NOT NULL CHECK (balance >= 0)
                );
                CREATE TABLE {RAW_SCHEMA}.transfer (
                    id bigserial PRIMARY KEY,
                    debit_id bigint NOT NULL,
                    credit_id bigint NOT NULL,
                    amount bigint NOT NULL CHECK (amount > 0),
                    created_at timestamptz NOT NULL DEFAULT now()
                );
                """
            )
    finally:
        conn.close()


def raw_accounts(conn: Connection, *, count: int, balance: int) -> list[int]:
    with conn.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RAW_SCHEMA}.account (balance) "
            "SELECT %s FROM generate_series(1, %s) RETURNING id",
            [balance, count],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
    conn.commit()
    return ids


def raw_transfer(conn: Connection, debit: int, credit: int, amount: int) -> None:
    with conn.cursor() as cursor:
        # ORDER BY under FOR UPDATE: rows are locked as the sort returns them, in id order,
        # so two transfers over the same pair never deadlock.
        cursor.execute(
            f"SELECT id FROM {RAW_SCHEMA}.account WHERE id IN (%s, %s) ORDER BY id FOR UPDATE",
            [debit, credit],
        )
        cursor.execute(
            f"UPDATE {RAW_SCHEMA}.account SET balance = balance - %s WHERE id = %s",
            [amount, debit],
        )
        cursor.execute(
            f"UPDATE {RAW_SCHEMA}.account SET balance = balance + %s WHERE id = %s",
            [amount, credit],
        )
        cursor.execute(
            f"INSERT INTO {RAW_SCHEMA}.transfer (debit_id, credit_id, amount) VALUES (%s, %s, %s)",
            [debit, credit, amount],
        )
    conn.commit()


def raw_totals(conn: Connection) -> tuple[int, int]:
    """(sum of all balances, transfers recorded)."""
    with conn.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT coalesce(sum(balance), 0) FROM {RAW_SCHEMA}.account), "
            f"(SELECT count(*) FROM {RAW_SCHEMA}.transfer)"
        )
        total, transfers = cursor.fetchone()
    conn.commit()
    return int(total), int(transfers)
