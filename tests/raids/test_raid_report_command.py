"""``manage.py raid_report verify``: a settled raid's report verifies (exit 0); a changed
byte of the report, a changed payout or a missing one fails it (exit 1), naming why."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from raids.models import Participant, Raid
from raids.services.settlement import raid_settle
from tests.raids.helpers import raid_ended


@pytest.fixture
def settled(raid_scene, make_raid, scored):
    raid = make_raid(raid_scene, pool=1_000_000)
    ann = scored(raid_scene, raid, "ann", 15, ("verified", "verified"))
    scored(raid_scene, raid, "bob", 5, ("verified",))
    raid_settle(tenant=raid_scene.tenant, raid=raid_ended(raid_scene, raid))
    return raid_scene, raid, ann


def verify(scene, raid) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "raid_report", "verify", "--tenant", scene.tenant.slug, "--raid", str(raid.pk),
        stdout=out, stderr=err,
    )  # fmt: skip
    return out.getvalue(), err.getvalue()


def test_a_settled_raids_report_verifies(settled):
    scene, raid, _ = settled
    out, _ = verify(scene, raid)
    with tenant_context(scene.tenant):
        digest = Raid.objects.get(pk=raid.pk).report_sha256
    assert f"report SHA-256 {digest}" in out and out.rstrip().endswith("agree")


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        ("report", "the audit log's is"),
        ("payout", "differs from the participants"),
    ],
)
def test_a_changed_report_or_payout_fails_with_exit_1(settled, tamper, why):
    scene, raid, ann = settled
    with tenant_context(scene.tenant):
        if tamper == "report":
            # Both the text and the raid's digest rewritten: only the audit log disagrees.
            row = Raid.objects.get(pk=raid.pk)
            text = row.report_csv.replace(",15,", ",16,")
            Raid.objects.filter(pk=raid.pk).update(
                report_csv=text, report_sha256=hashlib.sha256(text.encode()).hexdigest()
            )
        else:
            Participant.objects.filter(pk=ann.pk).update(payout=1)
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(
            "raid_report", "verify", "--tenant", scene.tenant.slug, "--raid", str(raid.pk),
            stdout=io.StringIO(), stderr=err,
        )  # fmt: skip
    assert caught.value.returncode == 1
    assert why in err.getvalue()


def test_bad_arguments_exit_2(settled):
    scene, raid, _ = settled
    for tenant, raid_id in (("no-such-community", raid.pk), (scene.tenant.slug, raid.pk + 50)):
        with pytest.raises(CommandError) as caught:
            call_command("raid_report", "verify", "--tenant", tenant, "--raid", str(raid_id))
        assert caught.value.returncode == 2
