#!/usr/bin/env python
"""Django's command-line utility, with platform/ and tenants/ as source roots."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
for source_root in ("platform", "tenants"):
    sys.path.insert(0, str(ROOT / source_root))
sys.path.insert(0, str(ROOT))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if sys.argv[1:2] == ["run"]:
        # `make run` is the local demo: the built-in keys are fine there, and it says so.
        os.environ.setdefault("BRAGABOT_ENV", "development")
    from django.core.management import execute_from_command_line

    from config.checks import SettingsError

    try:
        execute_from_command_line(sys.argv)
    except SettingsError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
