"""``manage.py runbots`` in its own process: it hosts the platform bot against the
sandbox, answers, and stops cleanly on SIGINT (what Ctrl-C and process managers send);
``--shard`` (or ``BOT_SHARD``) and ``--serve`` choose its share and its parts, and bad
values are refused with exit status 2."""

from __future__ import annotations

import signal
import time

import pytest
from django.core.management import CommandError, call_command

from botruntime.management.commands.runbots import status_lines
from botruntime.models import ProcessedUpdate
from botruntime.runtime import Runtime
from botruntime.shards import Shard, shard_of
from tests.botruntime.helpers import (
    process_running,
    runbots_env,
    wait_for_line,
)
from tests.helpers import until

PLATFORM_TOKEN = "690000003:AAHplatform-bot-token-for-runbots-test"
PLATFORM_BOT = 690000003


def test_runbots_hosts_answers_and_stops_on_sigint(elsewhere, tg, person):
    tg.add_bot(PLATFORM_TOKEN, username="bragabot")
    alice = person("alice")
    command = ["manage.py", "runbots", "--bot", str(PLATFORM_BOT)]
    with process_running(command, runbots_env(tg, PLATFORM_TOKEN)) as (process, lines):
        started = wait_for_line(lines, "bot runtime:")
        assert "hosting 1 bot(s) by long polling; serving updates, dispatch, jobs" in started

        tg.send_message(PLATFORM_BOT, alice, alice, "/help")
        until(lambda: tg.sent(PLATFORM_BOT, alice), timeout=15)
        [reply] = tg.sent(PLATFORM_BOT, alice)
        assert reply["text"].startswith("Commands:\n/start")

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        wait_for_line(lines, "bot runtime stopped", timeout=5)
        # Every thread stopped cleanly (its connection closed on its own thread).
        time.sleep(0.2)  # the reader thread has the last lines
        assert not [line for line in process.printed if "Traceback" in line]
    assert ProcessedUpdate.objects.filter(bot_id=PLATFORM_BOT).count() == 1


def test_runbots_hosts_its_shard_s_share_and_serves_what_it_is_told(elsewhere, tg, person):
    tg.add_bot(PLATFORM_TOKEN, username="bragabot")
    alice = person("alice")
    mine = shard_of(PLATFORM_BOT, 2)
    env = runbots_env(tg, PLATFORM_TOKEN)
    ours = ["manage.py", "runbots", "--shard", f"{mine}/2", "--serve", "updates"]
    other = ["manage.py", "runbots", "--serve", "dispatch,updates"]  # its shard from the env
    with (
        process_running(ours, env) as (process, lines),
        process_running(other, {**env, "BOT_SHARD": f"{1 - mine}/2"}) as (_, other_lines),
    ):
        started = wait_for_line(lines, "bot runtime:")
        assert (
            f"bot runtime: shard {mine}/2, hosting 1 bot(s) by long polling; serving updates."
            in started
        )
        other_started = wait_for_line(other_lines, "bot runtime:")
        assert (
            f"bot runtime: shard {1 - mine}/2, hosting 0 bot(s) by long polling; "
            "serving updates, dispatch." in other_started
        )
        tg.send_message(PLATFORM_BOT, alice, alice, "/help")
        [reply] = until(lambda: tg.sent(PLATFORM_BOT, alice), timeout=15)
        assert reply["text"].startswith("Commands:")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0


def test_what_a_runtime_serves_is_in_its_status_line():
    dispatch = Runtime(serve=["dispatch"], shard=Shard(1, 4))
    assert status_lines(dispatch)[0] == (
        "bot runtime: shard 1/4, hosting 0 bot(s) to send their notifications; "
        "serving dispatch. Ctrl-C to stop."
    )
    jobs = Runtime(serve=["jobs"])
    assert status_lines(jobs)[0] == "bot runtime: hosting no bot; serving jobs. Ctrl-C to stop."
    webhook = Runtime(jobs=False, webhook_url="https://bots.example.com/")
    assert status_lines(webhook)[0] == (
        "bot runtime: hosting 0 bot(s) by webhooks at https://bots.example.com; "
        "serving updates, dispatch. Ctrl-C to stop."
    )


@pytest.mark.parametrize(
    ("args", "bot_shard", "message"),
    [
        (["--shard", "5/4"], "", "--shard must look like I/N with 0 ≤ I < N, got '5/4'"),
        (["--shard", "two"], "", "--shard must look like I/N with 0 ≤ I < N, got 'two'"),
        ([], "4/4", "BOT_SHARD must look like I/N with 0 ≤ I < N, got '4/4'"),
        (
            ["--serve", "updates,cron"],
            "",
            "--serve takes a comma list of updates, dispatch, jobs, got 'updates,cron'",
        ),
        (["--serve", ""], "", "--serve takes a comma list of updates, dispatch, jobs, got ''"),
        (["--serve", "jobs", "--no-jobs"], "", "--no-jobs leaves --serve jobs nothing to serve"),
        (
            ["--bot", "1", "--shard", "0/2"],
            "",
            "--bot hosts the bots named whatever their shard: drop --shard or --bot",
        ),
        (
            ["--bot", "1"],
            "1/2",
            "--bot hosts the bots named whatever their shard: drop BOT_SHARD or --bot",
        ),
    ],
)
def test_bad_shards_and_parts_are_refused_with_exit_status_2(settings, args, bot_shard, message):
    settings.BOT_SHARD = bot_shard
    with pytest.raises(CommandError) as refused:
        call_command("runbots", *args)
    assert (str(refused.value), refused.value.returncode) == (message, 2)
