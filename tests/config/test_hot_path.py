"""What the API's hot path skips or remembers, and that it stays correct: prepared
statements across reconnects (and without a Django cursor: errors still Django's, queries
still counted), middleware skipped only under /api/, JSON without Accept
parsing (406 kept), remembered initData still expiring and still bound to its token."""

from __future__ import annotations

import json
import time

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts import initdata
from accounts.initdata import InitDataError, sign_hmac, validate_hmac
from config.prepared import execute_prepared, fetch_prepared
from tests.helpers import init_data_for

SQL = "SELECT $1::bigint + $2::bigint, current_schema() IS NOT NULL"


def _sum(a: int, b: int) -> int:
    with connection.cursor() as cursor:
        execute_prepared(cursor, "test_sum", SQL, ("bigint", "bigint"), (a, b))
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_prepared_statements_survive_a_new_connection(settings):
    assert _sum(2, 3) == 5
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = 'test_sum'")
        assert cursor.fetchone()[0] == 1
    connection.close()  # the server forgets the statement; so must we
    assert _sum(4, 5) == 9
    settings.DB_PREPARED_STATEMENTS = False
    assert _sum(1, 1) == 2  # sent as plain text: same answer
    with pytest.raises(ValueError, match="bad prepared statement name"):
        with connection.cursor() as cursor:
            settings.DB_PREPARED_STATEMENTS = True
            execute_prepared(cursor, "x; DROP TABLE y", SQL, ("bigint", "bigint"), (1, 2))


ROWS = "SELECT n, n * $1::bigint FROM generate_series(1, 3) AS n"
RATIO = "SELECT 10 / $1::int"


@pytest.mark.django_db(transaction=True)
def test_fetch_prepared_answers_across_reconnects_and_is_seen_when_queries_are_counted():
    assert fetch_prepared("test_rows", ROWS, ("bigint",), (2,)) == (1, 2)
    assert fetch_prepared("test_rows", ROWS, ("bigint",), (5,), many=True) == [
        (1, 5),
        (2, 10),
        (3, 15),
    ]
    connection.close()  # its kept cursor went with the connection
    assert fetch_prepared("test_rows", ROWS, ("bigint",), (3,)) == (1, 3)
    # Whoever counts queries sees this one: it then goes through Django's cursor.
    with CaptureQueriesContext(connection) as captured:
        assert fetch_prepared("test_rows", ROWS, ("bigint",), (4,)) == (1, 4)
    assert "EXECUTE test_rows (4)" in [q["sql"] for q in captured.captured_queries]


@pytest.mark.django_db(transaction=True)
def test_fetch_prepared_errors_are_djangos_and_roll_back_the_atomic_block():
    assert fetch_prepared("test_ratio", RATIO, ("int",), (5,)) == (2,)
    with pytest.raises(DataError):  # Django's class: its error wrapping saw it
        with transaction.atomic():
            fetch_prepared("test_ratio", RATIO, ("int",), (0,))
    # The transaction was rolled back cleanly; the connection is usable.
    assert fetch_prepared("test_ratio", RATIO, ("int",), (2,)) == (5,)
    with transaction.atomic():
        with pytest.raises(DataError), transaction.atomic():
            fetch_prepared("test_ratio", RATIO, ("int",), (0,))
        # Only the inner block (a savepoint) was rolled back.
        assert fetch_prepared("test_ratio", RATIO, ("int",), (1,)) == (10,)


def _me(tenant, **headers):
    client = APIClient()
    return client.get(
        "/api/v1/me",
        HTTP_HOST=tenant.domains.first().domain,
        HTTP_AUTHORIZATION="tma " + init_data_for(tenant, user_id=4711),
        **headers,
    )


def test_api_requests_skip_sessions_but_the_admin_keeps_them(tenant, client):
    response = _me(tenant)
    assert response.status_code == 200
    assert not hasattr(response.wsgi_request, "session")
    assert "sessionid" not in response.cookies and "Cookie" not in response.get("Vary", "")

    admin = client.get("/admin/login/")
    assert admin.status_code == 200
    assert hasattr(admin.wsgi_request, "session") and "csrftoken" in admin.cookies


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_json_is_answered_to_any_json_accepting_client(tenant, accept):
    headers = {"HTTP_ACCEPT": accept} if accept is not None else {}
    response = _me(tenant, **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["telegram_id"] == 4711


def test_other_accept_headers_are_still_negotiated(tenant):
    assert _me(tenant, HTTP_ACCEPT="text/html").status_code == 406
    ok = _me(tenant, HTTP_ACCEPT="text/html, application/json;q=0.9")
    assert ok.status_code == 200 and ok["Content-Type"] == "application/json"


def test_remembered_init_data_still_expires_and_stays_bound_to_its_token():
    token, other = "1234:AAA-token", "1234:BBB-token"
    now = int(time.time())
    user = json.dumps({"id": 1, "first_name": "A"})
    raw = sign_hmac({"auth_date": str(now), "user": user}, token)
    initdata.VERIFIED.clear()

    assert validate_hmac(raw, bot_token=token, now=now, max_age=60).fields["user"] == user
    assert (raw, token) in initdata.VERIFIED
    with pytest.raises(InitDataError) as expired:
        validate_hmac(raw, bot_token=token, now=now + 61, max_age=60)
    assert expired.value.code == "expired"
    with pytest.raises(InitDataError) as wrong:
        validate_hmac(raw, bot_token=other, now=now, max_age=60)
    assert wrong.value.code == "bad_hash"
    assert (raw, other) not in initdata.VERIFIED
