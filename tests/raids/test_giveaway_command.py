"""``manage.py giveaway verify``: a real draw verifies from the database and from a
published file; a tampered secret or entrant list exits 1."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context

from accounts.models import TelegramUser
from raids.giveaways import draw
from raids.models import Giveaway
from raids.services.giveaways import giveaway_draw, giveaway_enter


@pytest.fixture
def drawn(raid_scene, make_giveaway) -> Giveaway:
    giveaway = make_giveaway(raid_scene, winners=2)
    for i in range(6):
        user = TelegramUser.objects.create(telegram_id=8_300_000 + i, last_seen=datetime.now(UTC))
        giveaway_enter(tenant=raid_scene.tenant, giveaway=giveaway, user=user)
    return giveaway_draw(
        tenant=raid_scene.tenant, giveaway=giveaway, now=giveaway.draw_at + timedelta(seconds=1)
    ).giveaway


def _verify(*args: str) -> int:
    try:
        call_command("giveaway", "verify", *args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_a_draw_verifies_from_the_database_and_from_its_published_file(
    raid_scene, drawn, tmp_path, capsys
):
    assert _verify("--tenant", raid_scene.tenant.slug, "--giveaway", str(drawn.pk)) == 0
    assert "OK" in capsys.readouterr().out
    published = tmp_path / "result.json"
    published.write_text(json.dumps(drawn.result))
    assert _verify("--file", str(published)) == 0


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: r.update(secret="00" * 32),
        lambda r: r.update(entrants=[*r["entrants"], 9_999_999]),
        lambda r: r.update(entrants=r["entrants"][1:], entrants_sha256=None),
    ],
    ids=["secret", "fake-entrant", "entrant-removed"],
)
def test_a_tampered_result_exits_1(raid_scene, drawn, tmp_path, capsys, tamper):
    result = dict(drawn.result)
    tamper(result)
    published = tmp_path / "result.json"
    published.write_text(json.dumps({k: v for k, v in result.items() if v is not None}))
    assert _verify("--file", str(published)) == 1
    assert "MISMATCH" in capsys.readouterr().err
    with tenant_context(raid_scene.tenant):
        Giveaway.objects.filter(pk=drawn.pk).update(result=result)
    assert _verify("--tenant", raid_scene.tenant.slug, "--giveaway", str(drawn.pk)) == 1


def test_the_stored_commitment_wins_over_a_rewritten_copy_in_the_result(raid_scene, drawn):
    """Rewriting both the secret and the result's commitment cannot pass: the check uses
    the commitment published at creation."""

    other = bytes(32)
    # A self-consistent forgery: another secret, its hash, and the winners it draws.
    result = {
        **drawn.result,
        "secret": other.hex(),
        "commitment": hashlib.sha256(other).hexdigest(),
        "winners": draw(secret=other, entrants=drawn.result["entrants"], winners=2),
    }
    with tenant_context(raid_scene.tenant):
        Giveaway.objects.filter(pk=drawn.pk).update(result=result)
    assert _verify("--tenant", raid_scene.tenant.slug, "--giveaway", str(drawn.pk)) == 1


def test_unreadable_input_exits_2(raid_scene, make_giveaway, tmp_path):
    assert _verify("--file", str(tmp_path / "missing.json")) == 2
    assert _verify() == 2
    open_one = make_giveaway(raid_scene)
    assert _verify("--tenant", raid_scene.tenant.slug, "--giveaway", str(open_one.pk)) == 2
