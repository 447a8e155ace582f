"""``manage.py runbots`` in its own process: it hosts the platform bot against the
sandbox, answers, and stops cleanly on SIGINT (what Ctrl-C and process managers send)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from botruntime.models import ProcessedUpdate
from config.dbserver import connection_url
from tests.botruntime.helpers import stream_lines, wait_for_line

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_TOKEN = "690000003:AAHplatform-bot-token-for-runbots-test"
PLATFORM_BOT = 690000003


def test_runbots_hosts_answers_and_stops_on_sigint(elsewhere, tg, person):
    tg.add_bot(PLATFORM_TOKEN, username="bragabot")
    alice = person("alice")
    env = {
        **os.environ,
        "DATABASE_URL": connection_url(),
        "TELEGRAM_API_BASE": tg.base_url,
        "PLATFORM_BOT_TOKEN": PLATFORM_TOKEN,
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runbots", "--bot", str(PLATFORM_BOT)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=stream_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        started = wait_for_line(lines, "bot runtime:")
        assert "hosting 1 bot(s) by long polling; durable jobs on" in started

        tg.send_message(PLATFORM_BOT, alice, alice, "/help")
        deadline = time.monotonic() + 15
        while not tg.sent(PLATFORM_BOT, alice) and time.monotonic() < deadline:
            time.sleep(0.05)
        [reply] = tg.sent(PLATFORM_BOT, alice)
        assert reply["text"].startswith("Commands:\n/start")

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        wait_for_line(lines, "bot runtime stopped", timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert ProcessedUpdate.objects.filter(bot_id=PLATFORM_BOT).count() == 1
