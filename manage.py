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
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
