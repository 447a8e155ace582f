"""Fixtures for the audit log: raw SQL that gets past the append-only trigger, the way
someone with database access could, to prove tampering is detected."""

from __future__ import annotations

import pytest
from django.db import connection


def _as_superuser(sql: str, params: list | None = None) -> int:
    with connection.cursor() as cursor:
        # Replica mode skips ordinary triggers; set for this one statement only.
        cursor.execute("SELECT set_config('session_replication_role', 'replica', true)")
        cursor.execute(sql, params or [])
        count = cursor.rowcount
        cursor.execute("SELECT set_config('session_replication_role', 'origin', true)")
    return count


@pytest.fixture
def tamper():
    """``tamper(sql, params)`` runs SQL on history tables with the trigger bypassed."""
    return _as_superuser


@pytest.fixture
def archive_dir(tmp_path):
    path = tmp_path / "archive"
    path.mkdir()
    return path
