"""Project settings plus the api_me benchmark's baseline views (bench/http_app.py).
Production URLs and middleware are untouched; this module is used only by bench/."""

from config.settings import *  # noqa: F403
from config.settings import MIDDLEWARE

ROOT_URLCONF = "bench.urls"
PUBLIC_SCHEMA_URLCONF = "bench.urls"
MIDDLEWARE = ["bench.http_app.bare_shortcut", *MIDDLEWARE]
