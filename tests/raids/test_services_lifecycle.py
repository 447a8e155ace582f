"""``raid_close``: an open raid whose end has come moves to validating, once."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import tenant_context

from history.models import Entry
from raids.models import Raid
from raids.services.lifecycle import raid_close


def test_an_active_raid_past_its_end_moves_to_validating_once(raid_scene, make_raid):
    raid = make_raid(raid_scene)
    assert raid_close(raid_scene.tenant, raid.pk).status == Raid.Status.ACTIVE  # not yet
    with tenant_context(raid_scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    assert raid_close(raid_scene.tenant, raid.pk).status == Raid.Status.VALIDATING
    assert raid_close(raid_scene.tenant, raid.pk).status == Raid.Status.VALIDATING
    ended = Entry.objects.filter(tenant_id=raid_scene.tenant.pk, action="raids.raid_ended")
    assert ended.count() == 1 and ended.get().data["was"] == "active"


def test_a_cancelled_raid_stays_cancelled_and_an_unknown_one_is_none(raid_scene, make_raid):
    raid = make_raid(raid_scene)
    with tenant_context(raid_scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(
            status=Raid.Status.CANCELLED, ends_at=timezone.now() - timedelta(seconds=1)
        )
    assert raid_close(raid_scene.tenant, raid.pk).status == Raid.Status.CANCELLED
    assert raid_close(raid_scene.tenant, raid.pk + 1000) is None
