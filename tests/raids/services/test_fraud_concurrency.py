"""A dismissal racing a scan of the same raid: the decision waits for the raid's lock, so
it sees the flag the scan raised meanwhile and leaves the participant excluded (without
the lock it would put them back with an open flag)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from history.services import Actor
from raids.models import Flag, Participant, Raid
from raids.services.fraud import flag_decide


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_dismissal_waits_for_a_running_scan_and_sees_its_new_flag(tenant):
    now = datetime.now(UTC)
    with tenant_context(tenant):
        raid = Raid.objects.create(
            chat_id=-1001,
            post_id=1,
            post_url="https://x.com/p/status/1",
            post_author_id=1,
            post_author_username="p",
            status=Raid.Status.ACTIVE,
            starts_at=now,
            ends_at=now + timedelta(hours=1),
            currency="USDT",
            pool_amount=1,
            formula="points",
        )
        participant = Participant.objects.create(
            raid=raid,
            user_id=501,
            x_user_id=601,
            x_username="x601",
            joined_at=now,
            status=Participant.Status.EXCLUDED,
        )
        first = Flag.objects.create(raid=raid, user_id=501, reason="account_young")

    locked, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def scan() -> None:  # what fraud_scan does under the raid's lock
        try:
            with tenant_context(tenant), transaction.atomic():
                Raid.objects.select_for_update().get(pk=raid.pk)
                locked.set()
                release.wait(30)
                Flag.objects.create(raid=raid, user_id=501, reason="burst")
        except BaseException as exc:  # reported to the test's thread
            errors.append(exc)
        finally:
            connection.close()

    def dismiss() -> None:
        try:
            flag_decide(status="dismissed", tenant=tenant, flag_id=first.pk, actor=Actor.user(1))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    scanner = threading.Thread(target=scan)
    scanner.start()
    assert locked.wait(30)
    decider = threading.Thread(target=dismiss)
    decider.start()
    for _ in range(300):  # until the decision waits on the raid's row (or has finished)
        if _waiting_on_a_lock() or not decider.is_alive():
            break
        time.sleep(0.01)
    release.set()
    scanner.join(30)
    decider.join(30)
    assert not errors
    with tenant_context(tenant):
        assert Flag.objects.get(pk=first.pk).status == "dismissed"
        participant.refresh_from_db()
    assert participant.status == "excluded"  # the scan's flag is open
