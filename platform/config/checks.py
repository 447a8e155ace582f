"""Startup checks on the settings: what a process refuses to start with.

Run by config.settings at import, so every process (web, runbots, manage.py) fails at
once with every problem listed, instead of serving with a guessable key or answering
500 on each request. Production is the default; development (DEBUG=1, BRAGABOT_ENV=
development, which ``manage.py run`` sets, or the test suite) may use the built-in
keys and is told so on stderr.
"""

from __future__ import annotations

import re
import sys

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

# The key development runs with. Anything signed with it (sessions, the admin's CSRF
# tokens, tokens encrypted with a key derived from it) is forgeable by anyone who has
# read this file.
DEVELOPMENT_SECRET_KEY = "dev-only-insecure-secret-key-change-me-in-production"
ENVIRONMENTS = ("production", "development")
# What Telegram issues: the bot's id, a colon, 35 url-safe characters (longer accepted).
PLATFORM_BOT_TOKEN_FORMAT = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{35,}$")


class SettingsError(ImproperlyConfigured):
    """Settings a process must not start with; the message lists every problem."""


def settings_errors(
    *,
    development: bool,
    environment: str,
    secret_key: str,
    field_encryption_key: str,
    platform_bot_token: str,
) -> list[str]:
    errors = []
    if environment not in ENVIRONMENTS:
        errors.append(f"BRAGABOT_ENV must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}")
    if platform_bot_token and not PLATFORM_BOT_TOKEN_FORMAT.match(platform_bot_token):
        errors.append(
            "PLATFORM_BOT_TOKEN must look like 123456789:AA... (the bot's id, a colon, "
            "at least 35 letters, digits, - or _)"
        )
    if field_encryption_key:
        try:
            Fernet(field_encryption_key)
        except ValueError:
            errors.append(
                "FIELD_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64-encoded bytes)"
            )
    if not development:
        if not secret_key or secret_key == DEVELOPMENT_SECRET_KEY:
            errors.append("SECRET_KEY is not set: production needs its own secret key")
        if not field_encryption_key:
            errors.append(
                "FIELD_ENCRYPTION_KEY is not set: production needs its own key for bot "
                "tokens at rest, not one derived from SECRET_KEY"
            )
    return errors


def settings_verify(*, development: bool, quiet: bool, **values: str) -> None:
    """Raise SettingsError listing every problem; in development, say on stderr which
    built-in keys are in use (unless ``quiet``: the test suite)."""
    errors = settings_errors(development=development, **values)
    if errors:
        hint = (
            ""
            if development
            else "\n(on a development machine set BRAGABOT_ENV=development; see docs/operations.md)"
        )
        raise SettingsError(
            "refusing to start with these settings:\n  - " + "\n  - ".join(errors) + hint
        )
    built_in = [
        name
        for name, unset in (
            ("SECRET_KEY", values["secret_key"] == DEVELOPMENT_SECRET_KEY),
            ("FIELD_ENCRYPTION_KEY", not values["field_encryption_key"]),
        )
        if unset
    ]
    if development and built_in and not quiet:
        sys.stderr.write(
            f"WARNING: development settings: the built-in {' and '.join(built_in)} "
            "(production: leave BRAGABOT_ENV and DEBUG unset and set your own keys)\n"
        )
