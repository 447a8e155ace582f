"""The local backend for real: a white-label bot deployed as its own ``runbots`` process
answers through the sandbox Telegram; an unchanged apply leaves it alone; a change,
a pause, a kill -9 and a removal do what they say to the process; a bot that cannot run
ends up failed with the reason; a pooled bot has no process of its own. The last two
tests run a stand-in for manage.py: what they check is the supervision, not runbots.

The tenants are committed (``transaction=True``) so that the child processes, on their
own connections to the test database, see them."""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from config.dbserver import connection_url
from provisioner.kinds import kind_get
from provisioner.local import LocalBackend
from provisioner.parameters import parameters_validate
from provisioner.processes import Backoff
from provisioner.spec import BotSpec, Placement, Status
from tests.helpers import tenant_bot_token, until

pytestmark = pytest.mark.django_db(transaction=True)

ALICE = 6_100_001


def white_label(tenant, *, placement=Placement.ISOLATED, **parameters) -> BotSpec:
    token = tenant_bot_token(tenant)
    return BotSpec(
        tenant=tenant.slug,
        tenant_id=tenant.id,
        bot_id=int(token.split(":", 1)[0]),
        kind="white_label",
        parameters=parameters_validate(
            kind=kind_get("white_label"), parameters={"brand_name": "Acme", **parameters}
        ),
        placement=placement,
        token=token,
        username=f"{tenant.slug.replace('-', '_')}_bot",
    )


@pytest.fixture
def backend(tmp_path, tg):
    """A local backend whose children use the test database and the sandbox Telegram. The
    platform's BOT_SHARD (a pooled runtime's setting, which ``runbots --bot`` refuses)
    does not reach them."""
    env = {"DATABASE_URL": connection_url(), "TELEGRAM_API_BASE": tg.base_url, "BOT_SHARD": "0/2"}
    made = LocalBackend(
        tmp_path / "bots",
        env={**env, "LOG_LEVEL": "WARNING"},
        backoff=Backoff(initial=0.2, maximum=1.0),
        crash_limit=3,
    )
    yield made
    made.shutdown()


def answers(tg, bot_id: int, text: str = "/start") -> str:
    """Alice sends ``text`` to the bot; its reply (from whichever process hosts it)."""
    before = len(tg.sent(bot_id, ALICE))
    tg.send_message(bot_id, ALICE, ALICE, text)
    return until(lambda: tg.sent(bot_id, ALICE)[before:])[0]["text"]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A child killed but not yet reaped still answers signal 0: look at its state.
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split(") ", 1)[1].startswith("Z")


def test_an_isolated_bot_answers_from_its_own_process_through_its_whole_life(
    backend, make_tenant, tg
):
    tenant = make_tenant(name="Acme")
    spec = white_label(tenant)
    tg.add_bot(spec.token, username=spec.username)
    tg.add_user(ALICE, "Alice", username="alice", language_code="en")
    key = {"tenant": spec.tenant, "bot_id": spec.bot_id}

    first = backend.apply(spec)
    assert first.status is Status.DEPLOYING and first.writes == 2  # config, process
    backend.wait(**key, status=Status.RUNNING)
    pid = backend.pid(**key)
    assert pid is not None and pid != os.getpid()
    assert answers(tg, spec.bot_id).startswith("Welcome to Acme, Alice!")

    # The token is in no file, on no command line, in no environment: the child reads it
    # from the database.
    directory = backend.state_dir / spec.tenant / str(spec.bot_id)
    config = json.loads((directory / "config.json").read_text())
    assert config["bot_id"] == spec.bot_id and config["parameters"]["brand_name"] == "Acme"
    assert config["config_sha256"] == spec.config_sha256()
    secret = spec.token.split(":", 1)[1]
    for path in directory.iterdir():
        assert secret not in path.read_text()
    for what in ("cmdline", "environ"):
        assert secret.encode() not in Path(f"/proc/{pid}/{what}").read_bytes()

    # Unchanged: nothing happens to the process.
    again = backend.apply(spec)
    assert (again.status, again.writes) == (Status.RUNNING, 0)
    assert backend.pid(**key) == pid

    # Killed from outside: the supervisor starts it again and it answers.
    os.kill(pid, signal.SIGKILL)
    until(lambda: backend.pid(**key) not in (None, pid))
    assert backend.status(**key).status is not Status.FAILED
    backend.wait(**key, status=Status.RUNNING)
    restarted = backend.pid(**key)
    assert answers(tg, spec.bot_id).startswith("Welcome to Acme, Alice!")

    # Paused: the process is gone and stays gone; the configuration is kept.
    paused = backend.pause(**key)
    assert (paused.status, paused.writes) == (Status.PAUSED, 1)
    assert restarted is not None and gone(restarted)
    time.sleep(0.5)  # longer than the backoff: the supervisor starts nothing
    assert backend.pid(**key) is None and backend.status(**key).status is Status.PAUSED
    assert (directory / "config.json").exists()

    # Applied again: back.
    resumed = backend.apply(spec)
    assert (resumed.status, resumed.writes) == (Status.DEPLOYING, 1)
    backend.wait(**key, status=Status.RUNNING)
    assert answers(tg, spec.bot_id).startswith("Welcome to Acme, Alice!")

    # A changed configuration: written, and the process replaced.
    before_change = backend.pid(**key)
    changed = white_label(tenant, brand_name="Acme Two")
    rollout = backend.apply(changed)
    assert rollout.writes == 2  # config, restart
    assert json.loads((directory / "config.json").read_text())["parameters"] == {
        **changed.parameters
    }
    backend.wait(**key, status=Status.RUNNING)
    assert backend.pid(**key) != before_change and before_change is not None
    assert gone(before_change)
    # (The brand's texts reach the replies through the runtime: see the branding tests.)
    assert answers(tg, spec.bot_id).startswith("Welcome to Acme, Alice!")

    log = (directory / "bot.log").read_text()
    assert log.count("bot runtime: hosting 1 bot(s)") == 4  # first, restart, resume, change
    assert f"pid {pid} exited with -9" in log

    # Removed: process and state are gone.
    last = backend.pid(**key)
    removed = backend.remove(**key)
    assert removed.writes == 2 and removed.reason == "removed"
    assert last is not None and gone(last)
    with pytest.raises(ProcessLookupError):
        os.kill(last, 0)  # reaped too: no zombie left behind
    assert not directory.exists() and not directory.parent.exists()
    assert backend.status(**key).status is Status.PENDING
    assert backend.remove(**key).writes == 0


def test_a_bot_telegram_refuses_fails_with_the_reason_after_the_crash_loop_limit(
    backend, make_tenant, tg
):
    tenant = make_tenant()
    spec = white_label(tenant)  # its token is not on the sandbox: getMe answers 401
    key = {"tenant": spec.tenant, "bot_id": spec.bot_id}
    backend.crash_limit = 2  # each try starts a runtime: keep the test short

    backend.apply(spec)
    failed = backend.wait(**key, status=Status.FAILED, timeout=60)
    assert failed.reason.startswith("crash loop: exited 2 times within 60 s; last exit code")
    assert "not serving" in failed.reason and "telegram_refused" in failed.reason
    log = backend.log_path(**key).read_text()
    assert log.count(": runbots --bot") >= 2
    # Still failed on an unchanged apply: nothing new to deploy.
    assert backend.apply(spec).writes == 0
    backend.remove(**key)


def acme_spec(placement: Placement) -> BotSpec:
    """Bot 42 of tenant "acme", for the stand-in's tests (no database, no Telegram)."""
    return BotSpec(
        tenant="acme",
        tenant_id=1,
        bot_id=42,
        kind="white_label",
        parameters={"brand_name": "Acme"},
        placement=placement,
        token="42:secret",
    )


def stand_in(tmp_path: Path, code: str) -> Path:
    """A manage.py that runs ``code`` instead of Django: the supervision alone, fast."""
    path = tmp_path / "manage.py"
    path.write_text(code)
    return path


def test_a_pooled_bot_has_no_process_and_moving_a_bot_to_the_pool_stops_its_own(tmp_path):
    serving = stand_in(
        tmp_path,
        "import sys, time\n"
        "print('bot runtime: hosting 1 bot(s) by long polling', flush=True)\n"
        "time.sleep(600)\n",
    )
    backend = LocalBackend(tmp_path / "bots", manage_py=serving, spare=False)
    spec = acme_spec(Placement.POOLED)
    key = {"tenant": "acme", "bot_id": 42}
    try:
        pooled = backend.apply(spec)
        assert (pooled.status, pooled.reason, pooled.writes) == (
            Status.RUNNING,
            "hosted by the shared runtime",
            1,  # its config only
        )
        time.sleep(0.3)
        assert backend.pid(**key) is None

        backend.apply(replace(spec, placement=Placement.ISOLATED))
        backend.wait(**key, status=Status.RUNNING, timeout=10)
        pid = backend.pid(**key)
        moved = backend.apply(spec)
        assert (moved.status, moved.writes) == (Status.RUNNING, 2)  # config, process stopped
        assert pid is not None and gone(pid) and backend.pid(**key) is None
    finally:
        backend.shutdown()


def test_a_child_that_always_exits_is_restarted_with_backoff_not_in_a_storm(tmp_path):
    """A stand-in for manage.py that exits at once (as runbots does when its database
    is unreachable): restarts slow down, and after ``crash_limit`` exits it is failed,
    with its exit code and last line as the reason."""
    failing = stand_in(
        tmp_path, "import sys\nprint('starting')\nprint('database unreachable')\nsys.exit(3)\n"
    )
    backend = LocalBackend(
        tmp_path / "bots",
        manage_py=failing,
        backoff=Backoff(initial=0.1, maximum=30.0),
        crash_limit=4,
        spare=False,
    )
    try:
        spec = acme_spec(Placement.ISOLATED)
        backend.apply(spec)
        failed = backend.wait(tenant="acme", bot_id=42, status=Status.FAILED, timeout=20)
        assert failed.reason == (
            "crash loop: exited 4 times within 60 s; last exit code 3: database unreachable"
        )
        log = backend.log_path(tenant="acme", bot_id=42).read_text().splitlines()
    finally:
        backend.shutdown()
    # Each exit is followed by a start no sooner than the backoff says: 0.1, 0.2, 0.4 s.
    events = [
        (datetime.fromisoformat(line.split()[2].rstrip(":")), line)
        for line in log
        if line.startswith("--- provisioner")
    ]
    waits = [
        (float(line.rsplit("restart in ", 1)[1].split()[0]), at)
        for at, line in events
        if "exited with 3" in line
    ]
    starts = [at for at, line in events if ": runbots --bot" in line]
    assert len(starts) >= 4
    assert [wait for wait, _ in waits[:3]] == [0.1, 0.2, 0.4]
    for (wait, exited), started in zip(waits, starts[1:], strict=False):
        assert (started - exited).total_seconds() >= wait - 0.01
