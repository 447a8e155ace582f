"""``manage.py runbots`` with one more command, for the crash test of test_exactly_once:
``python tests/botruntime/runbots_once.py runbots --bot ID``.

``/once`` touches ``$ONCE_MARKERS/entered-<pid>``, waits until ``$ONCE_MARKERS/go``
exists (the test kills the process while it waits), then appends one audit entry (not
idempotent: a second run would append a second) with the update recorded done in the same
transaction (``in_tenant_once``), and replies "once".
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
for source_root in ("platform", "tenants"):
    sys.path.insert(0, str(ROOT / source_root))
sys.path.insert(0, str(ROOT))


async def on_once(update, context) -> None:
    from botruntime.context import in_tenant_once, tenant_of
    from history.services import record

    markers = Path(os.environ["ONCE_MARKERS"])
    (markers / f"entered-{os.getpid()}").touch()
    while not (markers / "go").exists():
        await asyncio.sleep(0.02)
    tenant = await tenant_of(update, context)
    await in_tenant_once(
        tenant, update, record, action="test.once", target=("update", update.update_id)
    )
    await update.effective_message.reply_text("once")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from telegram.ext import CommandHandler

    import botruntime.runtime as runtime

    probe = ModuleType("once_probe")
    probe.handlers = lambda: [CommandHandler("once", on_once)]
    installed = runtime._telegram_modules
    runtime._telegram_modules = lambda: [*installed(), probe]

    from django.core.management import execute_from_command_line

    execute_from_command_line(["manage.py", *sys.argv[1:]])


if __name__ == "__main__":
    main()
