"""One business operation = one transaction, run again when PostgreSQL gives up on it for
reasons that are not the caller's: a deadlock (40P01) or a serialization failure (40001).
Row locks are taken in one fixed order, so deadlocks are rare (an outer transaction of a
caller that already holds locks); still, they never reach the caller."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, transaction

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE = {"40P01", "40001"}  # deadlock_detected, serialization_failure
MAX_ATTEMPTS = 10
BASE_DELAY_S = 0.002
MAX_DELAY_S = 0.2


def pgcode(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error Django wrapped (psycopg2's is its cause)."""
    code: str | None = getattr(exc.__cause__, "pgcode", None) or getattr(exc, "pgcode", None)
    return code


def atomic_retry(operation: Callable[[], T], *, name: str, single_statement: bool = False) -> T:
    """Run ``operation`` in ``transaction.atomic()`` (a savepoint inside a caller's
    transaction, which a deadlock rolls back to), again after a retryable failure, with
    full jitter on an exponential delay, ``MAX_ATTEMPTS`` times at most.

    ``single_statement``: the operation is one SQL statement, which outside a caller's
    transaction is a transaction of its own; no BEGIN and COMMIT round trips then."""
    attempt = 1
    connection = transaction.get_connection()
    while True:
        try:
            if single_statement and connection.get_autocommit():
                return operation()
            with transaction.atomic():
                return operation()
        except OperationalError as exc:
            code = pgcode(exc)
            if code not in RETRYABLE or attempt >= MAX_ATTEMPTS:
                raise
            logger.info(
                "wallet.retry", extra={"operation": name, "sqlstate": code, "attempt": attempt}
            )
            time.sleep(
                random.uniform(  # noqa: S311 (jitter, not a secret)
                    0, min(MAX_DELAY_S, BASE_DELAY_S * 2**attempt)
                )
            )
            attempt += 1
