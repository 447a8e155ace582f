"""Chain heads published outside the database: a chain rewritten with consistent hashes
(triggers off, as the table's owner can) passes the plain check and fails against them."""

import hashlib
import json
import logging
import re
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.services import user_start, user_touch
from config.job_registry import job_kinds
from history.anchors import anchors_read
from history.chain import ENTRY_FIELDS, chain_key, row_hash
from history.models import ChainHead, Entry
from history.services import anchors_publish, chain_archive, history_seal, record
from notifications.models import OutboxMessage
from tenancy.selectors import tenant_get

PLATFORM_BOT_ID = 5_550_001


@pytest.fixture
def anchor_dir(tmp_path):
    return tmp_path / "anchors"


def _fill(tenant, n: int) -> None:
    for i in range(n):
        record(action="thing.done", tenant=tenant, data={"i": i})
    history_seal()


def _verify(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("history", "verify", *args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def _rewrite(tamper, chain: str, seq: int, data: dict) -> None:
    """Change entry ``seq``'s data and recompute every hash from it to the head, as
    someone who can switch the triggers off would: the chain is consistent again."""
    tamper(
        "UPDATE history_entry SET data = %s::jsonb WHERE chain = %s AND seq = %s",
        [json.dumps(data), chain, seq],
    )
    rows = Entry.objects.filter(chain=chain, seq__gte=seq).order_by("seq").values(*ENTRY_FIELDS)
    prev = last_prev = rows[0]["prev_hash"]
    for row in rows:
        digest = row_hash(row, prev)
        tamper(
            "UPDATE history_entry SET prev_hash = %s, hash = %s WHERE chain = %s AND seq = %s",
            [prev, digest, chain, row["seq"]],
        )
        last_prev, prev = prev, digest
    tamper(
        "UPDATE history_chainhead SET prev_hash = %s, last_hash = %s WHERE chain = %s",
        [last_prev, prev, chain],
    )


def test_publishing_appends_every_head_and_never_rewrites(tenant, anchor_dir):
    _fill(tenant, 2)
    chains = ChainHead.objects.filter(seq__gt=0).count()
    first = anchors_publish(directory=anchor_dir)
    before = first.path.read_bytes()
    _fill(tenant, 1)
    second = anchors_publish(directory=anchor_dir)

    assert second.path == first.path == anchor_dir / f"{datetime.now(UTC).date()}.jsonl"
    assert second.path.read_bytes().startswith(before)  # appended, the first lines intact
    published, bad = anchors_read(directory=anchor_dir)
    assert bad == []
    mine = published[chain_key(tenant.pk)]
    head = ChainHead.objects.get(chain=chain_key(tenant.pk))
    assert [(a.seq, a.hash) for a in mine][-1] == (head.seq, head.last_hash)
    assert mine[0].seq == head.seq - 1
    assert len(before.splitlines()) == first.count == chains
    note = Entry.objects.filter(action="history.anchored").order_by("-id").first()
    assert note.chain == "platform" and note.data["sha256"] == second.sha256


def test_a_rewritten_chain_passes_verify_but_not_its_anchors(tenant, anchor_dir, tamper):
    _fill(tenant, 4)
    anchors_publish(directory=anchor_dir)
    _fill(tenant, 2)
    anchors_publish(directory=anchor_dir)
    chain = chain_key(tenant.pk)
    anchored = [a.seq for a in anchors_read(directory=anchor_dir)[0][chain]]
    victim = anchored[0] - 1

    _rewrite(tamper, chain, victim, {"i": 999})

    code, out = _verify("--tenant", tenant.slug)
    assert code == 0 and f"{chain} live: ok" in out
    code, out = _verify("--tenant", tenant.slug, "--anchors", str(anchor_dir))
    assert code == 1
    assert f"{chain} live: ok" in out
    # The first published head at or after the rewritten entry disagrees.
    assert f"{chain} anchors: BROKEN: entry {anchored[0]} has hash " in out
    assert "the chain was rewritten" in out


def test_a_chain_cut_short_fails_its_anchors(tenant, anchor_dir, tamper):
    _fill(tenant, 3)
    anchors_publish(directory=anchor_dir)
    chain = chain_key(tenant.pk)
    head = ChainHead.objects.get(chain=chain)
    last = Entry.objects.get(chain=chain, seq=head.seq)
    tamper("DELETE FROM history_entry WHERE id = %s", [last.id])
    tamper(
        "UPDATE history_chainhead SET seq = seq - 1, last_hash = prev_hash WHERE chain = %s",
        [chain],
    )
    assert _verify("--tenant", tenant.slug)[0] == 0
    code, out = _verify("--tenant", tenant.slug, "--anchors", str(anchor_dir))
    assert code == 1
    assert f"the chain ends at entry {head.seq - 1}, but " in out
    assert f"names entry {head.seq}" in out


def test_anchors_keep_verifying_across_an_archive(tenant, anchor_dir, archive_dir):
    _fill(tenant, 3)
    anchors_publish(directory=anchor_dir)
    chain = chain_key(tenant.pk)
    chain_archive(tenant=tenant, before=datetime.now(UTC), directory=archive_dir)
    _fill(tenant, 2)
    chain_archive(tenant=tenant, before=datetime.now(UTC), directory=archive_dir)
    _fill(tenant, 1)
    anchors_publish(directory=anchor_dir)
    head = ChainHead.objects.get(chain=chain)
    anchored = [a.seq for a in anchors_read(directory=anchor_dir)[0][chain]]
    assert anchored[0] < head.anchor_seq < anchored[1]  # one inside a segment, one live

    code, out = _verify(
        "--tenant",
        tenant.slug,
        "--archives",
        "--archive-dir",
        str(archive_dir),
        "--anchors",
        str(anchor_dir),
    )
    assert code == 0, out
    assert f"{chain} anchors: ok, 2 published heads match" in out

    # Without the segments, the archived anchor cannot be checked: that is not a pass.
    code, out = _verify(
        "--tenant", tenant.slug, "--archive-dir", str(anchor_dir), "--anchors", str(anchor_dir)
    )
    assert code == 1 and f"entry {anchored[0]} " in out and "no segment" in out


def test_a_damaged_anchor_file_is_reported(tenant, anchor_dir):
    _fill(tenant, 1)
    published = anchors_publish(directory=anchor_dir)
    with open(published.path, "a") as handle:
        handle.write("not json\n")
    code, out = _verify("--tenant", tenant.slug, "--anchors", str(anchor_dir))
    assert code == 1
    assert f"anchors: BROKEN: {published.path.name}:{published.count + 1} is not an anchor" in out


def test_the_archive_folder_of_anchors_is_not_a_chain(tenant, archive_dir):
    anchors_publish(directory=archive_dir / "anchors")
    code, out = _verify("--archives", "--archive-dir", str(archive_dir))
    assert code == 0, out
    assert "anchors archive" not in out and "anchors live" not in out


@pytest.fixture
def platform_staff(db):
    """A staff user who sent /start to the platform bot in a private chat, which is how the
    public tenant's notifications reach them."""
    staff = user_touch(profile={"id": 4_040_401, "username": "ops", "first_name": "Ops"})
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    user_start(
        tenant=tenant_get(slug="public"),
        profile={"id": 4_040_401, "username": "ops", "first_name": "Ops"},
        bot_id=PLATFORM_BOT_ID,
        private_chat=True,
    )
    return staff


def test_the_digest_goes_to_platform_staff_through_the_outbox(tenant, anchor_dir, platform_staff):
    user_touch(profile={"id": 4_040_402, "username": "member", "first_name": "Member"})
    _fill(tenant, 1)
    published = anchors_publish(directory=anchor_dir)
    assert published.announced == 1
    message = OutboxMessage.objects.get(event="alert.history_anchors")
    assert (message.chat_id, message.bot_id) == (platform_staff.telegram_id, PLATFORM_BOT_ID)
    assert message.tenant.schema_name == "public"
    assert published.sha256 in message.text and published.path.name in message.text
    # The recipe of docs/operations.md: the lines of that publication hash to the digest.
    at = re.search(r"published_at (\S+)\.\n", message.text).group(1)
    lines = [
        line
        for line in published.path.read_bytes().splitlines(keepends=True)
        if f'"published_at":"{at}"'.encode() in line
    ]
    assert len(lines) == published.count
    assert hashlib.sha256(b"".join(lines)).hexdigest() == published.sha256


def test_no_staff_to_tell_is_logged(tenant, anchor_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="history.services"):
        published = anchors_publish(directory=anchor_dir)
    assert published.announced == 0
    assert any(r.message == "history.anchors_unannounced" for r in caplog.records)


def test_the_daily_job_publishes_under_the_archive_dir(tenant, settings, tmp_path):
    settings.HISTORY_ARCHIVE_DIR = tmp_path
    kind = job_kinds()["history.anchors"]
    assert kind.every.days == 1 and not kind.per_tenant
    kind.func(tenant=None, payload={})
    files = list((tmp_path / "anchors").glob("*.jsonl"))
    assert [f.name for f in files] == [f"{datetime.now(UTC).date()}.jsonl"]
    assert chain_key(tenant.pk) in anchors_read(directory=tmp_path / "anchors")[0]


def test_publish_command(tenant, anchor_dir):
    out = StringIO()
    call_command("history", "anchor", "--anchor-dir", str(anchor_dir), stdout=out)
    assert "chain heads appended to" in out.getvalue()
    assert chain_key(tenant.pk) in anchors_read(directory=anchor_dir)[0]
