"""``python -m provisioner.spare``: a bot runtime process started before it is needed.

It does what ``manage.py runbots`` does before it serves (Django set up, the runtime and
every app's Telegram handlers imported, the system checks run), prints ``spare: ready``
and waits for one line on stdin: the arguments of runbots (``--bot ID --serve ...``).
Then it *is* that runbots, in the same process. The local backend keeps one spare warm so
that a new bot waits for its runtime to connect, not for Python and Django to start
(seconds on a busy machine). End of input: exit without serving.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def warm() -> None:
    """Everything runbots does before it reads its arguments' bots from the database."""
    import django
    from django.core.management import load_command_class

    django.setup()
    command = load_command_class("botruntime", "runbots")
    command.check()  # raises SystemCheckError on errors, as runbots' own start would
    # The handlers every hosted bot gets, imported as the runtime collects them.
    importlib.import_module("botruntime.runtime").collect_handlers()


def main() -> None:
    for source_root in ("platform", "tenants"):
        sys.path.insert(0, str(ROOT / source_root))
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    manage = importlib.import_module("manage")  # manage.py: its error handling too
    warm()
    print("spare: ready", flush=True)
    line = sys.stdin.readline()
    if not line.strip():
        return
    # The checks ran in warm(); runbots need not run them again.
    sys.argv = ["manage.py", "runbots", *line.split(), "--skip-checks"]
    manage.main()


if __name__ == "__main__":
    main()
