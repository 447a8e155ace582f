"""``manage.py runbots`` in its own process: it hosts the platform bot against the
sandbox, answers, and stops cleanly on SIGINT (what Ctrl-C and process managers send)."""

from __future__ import annotations

import signal
import time

from botruntime.models import ProcessedUpdate
from tests.botruntime.helpers import (
    process_running,
    runbots_env,
    until,
    wait_for_line,
)

PLATFORM_TOKEN = "690000003:AAHplatform-bot-token-for-runbots-test"
PLATFORM_BOT = 690000003


def test_runbots_hosts_answers_and_stops_on_sigint(elsewhere, tg, person):
    tg.add_bot(PLATFORM_TOKEN, username="bragabot")
    alice = person("alice")
    command = ["manage.py", "runbots", "--bot", str(PLATFORM_BOT)]
    with process_running(command, runbots_env(tg, PLATFORM_TOKEN)) as (process, lines):
        started = wait_for_line(lines, "bot runtime:")
        assert "hosting 1 bot(s) by long polling; durable jobs on" in started

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
