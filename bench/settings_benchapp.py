"""Project settings plus the bench-only tenant app (bench/benchapp) for the
migrate_schemas benchmark. Never used outside bench/."""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS, TENANT_APPS

TENANT_APPS = [*TENANT_APPS, "bench.benchapp"]
INSTALLED_APPS = [*INSTALLED_APPS, "bench.benchapp"]
