"""The tables' own guarantees: one open raid per post in a community, one participant
row per person and per X account in a raid."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django_tenants.utils import tenant_context

from raids.models import Raid
from tests.raids.helpers import join


def test_a_post_has_one_open_raid_in_a_community_and_a_new_one_once_it_settled(
    raid_scene, make_raid
):
    first = make_raid(raid_scene)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_raid(raid_scene)
    with tenant_context(raid_scene.tenant):
        Raid.objects.filter(pk=first.pk).update(status=Raid.Status.SETTLED)
    assert make_raid(raid_scene).post_id == first.post_id


def test_an_x_account_joins_a_raid_once_whoever_it_is_linked_to(
    raid_scene, raid_x, make_raid, linked
):
    raid = make_raid(raid_scene)
    alice, alice_x = linked(raid_scene, raid_x, "alice")
    bob, _ = linked(raid_scene, raid_x, "bob")
    join(raid_scene, raid, alice, alice_x)
    with pytest.raises(IntegrityError), transaction.atomic():
        join(raid_scene, raid, bob, alice_x)
    with pytest.raises(IntegrityError), transaction.atomic():
        join(raid_scene, raid, alice, alice_x)
