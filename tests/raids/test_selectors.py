"""Reads of raids: filters, one raid (404 otherwise), per-task counts, a user's raids and
the active raids of some groups."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from config.errors import ServiceError
from raids import selectors
from raids.models import Raid, Result
from tests.raids.helpers import join


def test_lists_filters_and_counts(raid_scene, raid_x, make_raid, linked):
    tenant = raid_scene.tenant
    raid = make_raid(raid_scene)
    alice, alice_x = linked(raid_scene, raid_x, "alice")
    bob, bob_x = linked(raid_scene, raid_x, "bob")
    with tenant_context(tenant):
        repost, like = raid.tasks.order_by("position")
        for user, account, status in ((alice, alice_x, "verified"), (bob, bob_x, "pending")):
            participant = join(raid_scene, raid, user, account)
            Result.objects.create(participant=participant, task=repost, status=status)
            Result.objects.create(participant=participant, task=like, status="failed")
        assert list(selectors.raid_list(tenant=tenant, status="active")) == [raid]
        assert not selectors.raid_list(tenant=tenant, status="settled").exists()
        assert not selectors.raid_list(tenant=tenant, chat_id=raid_scene.chat_id - 1).exists()
        counts = selectors.raid_task_counts(tenant=tenant, raid=raid)
        assert [(c.task.kind, c.verified, c.pending, c.failed) for c in counts] == [
            ("repost", 1, 1, 0),
            ("like", 0, 0, 2),
        ]
        [mine] = selectors.raids_of_user(tenant=tenant, user_id=alice.telegram_id)
        assert mine.raid == raid
        progress = selectors.participant_progress(tenant=tenant, participant=mine)
        assert [(r.task.kind, r.status) for r in progress] == [
            ("repost", "verified"),
            ("like", "failed"),
        ]
        assert selectors.raids_active_in(tenant=tenant, chat_ids=[raid_scene.chat_id]) == [raid]
        Raid.objects.filter(pk=raid.pk).update(status=Raid.Status.CANCELLED)
        assert selectors.raids_active_in(tenant=tenant) == []


@pytest.mark.parametrize("raid_id", [424242, 0, 2**63, -1])
def test_a_raid_that_is_not_there_is_404(raid_scene, make_raid, raid_id):
    make_raid(raid_scene)
    with tenant_context(raid_scene.tenant), pytest.raises(ServiceError) as refused:
        selectors.raid_get(tenant=raid_scene.tenant, raid_id=raid_id)
    assert (refused.value.code, refused.value.status) == ("raid_not_found", 404)


def test_a_raid_of_another_group_is_404_and_a_bad_status_400(raid_scene, make_raid):
    raid = make_raid(raid_scene)
    with tenant_context(raid_scene.tenant):
        with pytest.raises(ServiceError) as refused:
            selectors.raid_get(tenant=raid_scene.tenant, raid_id=raid.pk, chat_id=-1)
        assert refused.value.code == "raid_not_found"
        with pytest.raises(ServiceError) as refused:
            selectors.raid_list(tenant=raid_scene.tenant, status="open")
        assert refused.value.status == 400
