"""Production refuses unsafe settings at startup (config.checks): each case runs a fresh
process that imports the settings or runs manage.py, with only the environment given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

from config.checks import DEVELOPMENT_SECRET_KEY, settings_errors
from config.dbserver import connection_url

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = os.pathsep.join(str(ROOT / name) for name in ("platform", "tenants", "."))
SECRET = "k3Vq9-production-secret-key-for-the-suite-0123456789abcdefXYZ"
FERNET_KEY = Fernet.generate_key().decode()
VALID_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
# What docs/operations.md lists for production (behind a TLS proxy).
PRODUCTION = {
    "SECRET_KEY": SECRET,
    "FIELD_ENCRYPTION_KEY": FERNET_KEY,
    "ALLOWED_HOSTS": ".bragabot.example",
    "PUBLIC_DOMAIN": "bragabot.example",
}


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """A process with nothing of this one's environment but PATH and the database URL
    (a set DATABASE_URL is parsed, not connected to, when the settings load)."""
    clean = {"PATH": os.environ["PATH"], "DATABASE_URL": connection_url(), **env}
    clean["PYTHONPATH"] = SOURCE_ROOTS
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def _import_settings(**env: str) -> subprocess.CompletedProcess[str]:
    return _run(["-c", "import config.settings"], **env)


def test_production_settings_load(db):
    result = _import_settings(**PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        (["SECRET_KEY"], ["SECRET_KEY is not set"]),
        (["FIELD_ENCRYPTION_KEY"], ["FIELD_ENCRYPTION_KEY is not set"]),
        (
            ["SECRET_KEY", "FIELD_ENCRYPTION_KEY"],
            ["SECRET_KEY is not set", "FIELD_ENCRYPTION_KEY is not set"],
        ),
    ],
)
def test_production_refuses_the_built_in_keys(db, missing, named):
    env = {k: v for k, v in PRODUCTION.items() if k not in missing}
    result = _import_settings(**env)
    assert result.returncode != 0
    assert "SettingsError: refusing to start" in result.stderr
    for text in named:
        assert text in result.stderr


def test_the_development_key_spelt_out_is_refused_too(db):
    result = _import_settings(**{**PRODUCTION, "SECRET_KEY": DEVELOPMENT_SECRET_KEY})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize("flag", [{"BRAGABOT_ENV": "development"}, {"DEBUG": "1"}])
def test_development_runs_on_the_built_in_keys_and_says_so(db, flag):
    result = _import_settings(**flag)
    assert result.returncode == 0, result.stderr
    assert "WARNING: development settings" in result.stderr
    assert "SECRET_KEY and FIELD_ENCRYPTION_KEY" in result.stderr


def test_an_unknown_environment_name_is_refused(db):
    result = _import_settings(**PRODUCTION, BRAGABOT_ENV="prod")
    assert result.returncode != 0
    assert "BRAGABOT_ENV must be one of" in result.stderr


@pytest.mark.parametrize(
    "token",
    [
        "123456789",
        "bot123:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0",
        "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",  # 34 characters
        "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsa/0",
        " 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0",
    ],
)
def test_a_malformed_platform_bot_token_stops_startup(db, token):
    """Even in development: otherwise every request on the public domain answers 500."""
    result = _import_settings(BRAGABOT_ENV="development", PLATFORM_BOT_TOKEN=token)
    assert result.returncode != 0
    assert "PLATFORM_BOT_TOKEN must look like" in result.stderr


def test_a_well_formed_platform_bot_token_starts(db):
    result = _import_settings(**PRODUCTION, PLATFORM_BOT_TOKEN=VALID_TOKEN)
    assert result.returncode == 0, result.stderr


def test_a_field_encryption_key_that_is_not_fernet_stops_startup(db):
    result = _import_settings(**{**PRODUCTION, "FIELD_ENCRYPTION_KEY": "not-a-fernet-key"})
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY is not a Fernet key" in result.stderr


def test_manage_py_says_what_is_wrong_in_one_message(db):
    result = _run(["manage.py", "tenant", "list"])
    assert result.returncode == 2
    assert result.stderr.startswith("error: refusing to start with these settings:")
    assert "Traceback" not in result.stderr


def test_check_deploy_passes_with_the_documented_production_settings(db):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("env", "warning"),
    [
        ({"SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        ({"SECURE_SSL_REDIRECT": "0"}, "security.W008"),
        ({"DEBUG": "1"}, "security.W018"),
    ],
)
def test_check_deploy_fails_when_a_production_setting_is_switched_off(db, env, warning):
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION, **env
    )
    assert result.returncode != 0
    assert warning in result.stdout + result.stderr


def test_production_trusts_the_proxys_https_header_and_frames_nothing(db):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "'django.middleware.clickjacking.XFrameOptionsMiddleware' in s.MIDDLEWARE, "
        "s.X_FRAME_OPTIONS)"
    )
    result = _run(["-c", code], **PRODUCTION, DJANGO_SETTINGS_MODULE="config.settings")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
        "True",
        "True",
        "True",
        "DENY",
    ]


def test_the_suite_itself_runs_as_development():
    """No environment is needed for the tests; processes they start inherit the flag."""
    assert settings.DEVELOPMENT is True
    assert os.environ["BRAGABOT_ENV"] == "development"
    assert settings.SECURE_SSL_REDIRECT is False


def test_settings_errors_lists_every_problem_at_once():
    errors = settings_errors(
        development=False,
        environment="production",
        secret_key="",
        field_encryption_key="",
        platform_bot_token="nope",
    )
    assert len(errors) == 3
