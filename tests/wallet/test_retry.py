"""Deadlocks and serialization failures are run again inside the service; other errors
and a failure that persists reach the caller. The failures are real PostgreSQL errors
(raised with their SQLSTATE by the server)."""

from __future__ import annotations

import pytest
from django.db import OperationalError, ProgrammingError, connection

from wallet.services import retry


def _fail_with(sqlstate: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '{sqlstate}'; END $$"
        )


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_a_deadlock_or_serialization_failure_is_retried(db, sqlstate, monkeypatch):
    monkeypatch.setattr(retry, "BASE_DELAY_S", 0)
    attempts = []

    def operation() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            _fail_with(sqlstate)
        return "done"

    assert retry.atomic_retry(operation, name="test") == "done"
    assert len(attempts) == 3


def test_a_persisting_failure_and_other_errors_reach_the_caller(db, monkeypatch):
    monkeypatch.setattr(retry, "BASE_DELAY_S", 0)
    attempts = []

    def deadlocked() -> None:
        attempts.append(1)
        _fail_with("40P01")

    with pytest.raises(OperationalError):
        retry.atomic_retry(deadlocked, name="test")
    assert len(attempts) == retry.MAX_ATTEMPTS

    attempts.clear()

    def broken() -> None:
        attempts.append(1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    with pytest.raises(ProgrammingError):
        retry.atomic_retry(broken, name="test")
    assert len(attempts) == 1
