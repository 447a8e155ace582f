"""A runtime follows committed bot changes at once: a thread LISTENs on tenancy's
``BOTS_CHANNEL`` (``tenancy.services.bots_changed`` NOTIFYs in the writer's transaction)
and calls ``on_change``; the minute refresh stays as the fallback for a missed notice
(the listener reconnecting, a change written by hand)."""

from __future__ import annotations

import logging
import select
import threading
from collections.abc import Callable

import psycopg2
from django.db import connections
from psycopg2.extensions import ISOLATION_LEVEL_AUTOCOMMIT

from tenancy.services import BOTS_CHANNEL

logger = logging.getLogger(__name__)

WAIT_S = 0.5  # how long one wait for a notice lasts: the bound on stopping
RECONNECT_S = (1.0, 30.0)  # first and longest wait before connecting again


class BotChanges(threading.Thread):
    def __init__(self, on_change: Callable[[], object]) -> None:
        super().__init__(name="bot-changes", daemon=True)
        self.on_change = on_change
        self.listening = threading.Event()
        self._stop_requested = threading.Event()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop_requested.set()
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        delay = RECONNECT_S[0]
        while not self._stop_requested.is_set():
            try:
                self._listen()
                delay = RECONNECT_S[0]
            except psycopg2.Error as exc:
                self.listening.clear()
                logger.warning("botruntime.bot_changes_lost", extra={"error": str(exc)[:200]})
                self._stop_requested.wait(delay)
                delay = min(delay * 2, RECONNECT_S[1])

    def _listen(self) -> None:
        params = connections["default"].get_connection_params()
        conn = psycopg2.connect(**params)
        try:
            conn.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
            with conn.cursor() as cursor:
                cursor.execute(f"LISTEN {BOTS_CHANNEL}")
            self.listening.set()
            while not self._stop_requested.is_set():
                if not select.select([conn], [], [], WAIT_S)[0]:
                    continue
                conn.poll()
                if conn.notifies:
                    conn.notifies.clear()  # several changes, one refresh
                    self.on_change()
        finally:
            conn.close()
