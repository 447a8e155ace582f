"""The results of a settled raid: the group's summary (totals, top 10, the report's
digest and URL) and each participant's own result, queued once; nothing before the raid
is settled."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from config.errors import ServiceError
from notifications.models import OutboxMessage
from raids.models import Participant, Raid
from raids.services.results_announce import raid_results_announce
from raids.services.settlement import raid_settle
from tests.raids.helpers import raid_ended


@pytest.fixture
def settled(raid_scene, make_raid, scored):
    scene = raid_scene
    raid = make_raid(scene, pool=1_000_000, formula="points", title="Launch raid")
    people = [
        scored(scene, raid, "ann", 15, ("verified", "verified")),
        scored(scene, raid, "bob", 5, ("verified", "unverifiable")),
        scored(scene, raid, "cy", 0, ("failed", "failed")),
        scored(scene, raid, "eve", 40, ("verified", "verified"), excluded=True),
    ]
    raid_settle(tenant=scene.tenant, raid=raid_ended(scene, raid))
    with tenant_context(scene.tenant):
        raid.refresh_from_db()
    return scene, raid, people


def test_the_group_and_each_participant_get_their_results_once(settled):
    scene, raid, (ann, bob, cy, eve) = settled
    done = raid_results_announce(tenant=scene.tenant, raid=raid)
    assert (done.group, done.participants, done.replayed) == (True, 4, False)

    [summary] = OutboxMessage.objects.filter(tenant=scene.tenant, chat_id=scene.chat_id)
    assert summary.idempotency_key == f"raid:{raid.pk}:results"
    lines = summary.text.splitlines()
    assert lines[:5] == [
        "Results of Launch raid",
        "Participants: 4; verified tasks: 5",
        "Paid: 1 USDT to 2; back to the group: 0 USDT",
        "Top 2:",
        f"1. @{ann.x_username}: 15 points, 0.75 USDT",
    ]
    assert lines[5] == f"2. @{bob.x_username}: 5 points, 0.25 USDT"
    assert lines[6].endswith(f"/api/v1/raids/{raid.pk}/report.csv")
    assert lines[7] == f"SHA-256: {raid.report_sha256}"

    private = {
        m.chat_id: m.text
        for m in OutboxMessage.objects.filter(tenant=scene.tenant, event="raid.reward")
    }
    assert private[bob.user_id] == (
        "Your result in Launch raid: 5 points; tasks verified 1, unverifiable 1, failed 0. "
        "Reward: 0.25 USDT."
    )
    assert "Reward: 0 USDT." in private[cy.user_id]
    assert "not counted" in private[eve.user_id]
    with tenant_context(scene.tenant):
        assert not Participant.objects.filter(raid=raid, notified_at__isnull=True).exists()
        assert Raid.objects.get(pk=raid.pk).results_sent_at is not None

    again = raid_results_announce(tenant=scene.tenant, raid=raid)
    assert again.replayed
    assert OutboxMessage.objects.filter(tenant=scene.tenant).count() == 5


def test_nothing_is_announced_before_settlement(raid_scene, make_raid, scored):
    raid = make_raid(raid_scene)
    scored(raid_scene, raid, "ann", 15, ("verified",))
    with pytest.raises(ServiceError) as caught:
        raid_results_announce(tenant=raid_scene.tenant, raid=raid)
    assert (caught.value.code, caught.value.status) == ("raid_not_settled", 409)
    assert not OutboxMessage.objects.filter(tenant=raid_scene.tenant).exists()
