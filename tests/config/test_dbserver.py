import os
import subprocess
import sys

import dj_database_url
import psycopg2
import pytest
from cryptography.fernet import Fernet
from django.db import connection
from psycopg2.extensions import parse_dsn

from config import dbserver


def test_a_command_on_the_embedded_server_prints_only_its_output_and_stops_it():
    running_before = dbserver.embedded_server_running()  # e.g. this suite's own server
    drop = {"XDG_RUNTIME_DIR", "DATABASE_URL", "BRAGABOT_ENV", "DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    # Production with keys of its own: the development warning is a line it means to say.
    env |= {"SECRET_KEY": "x" * 60, "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode()}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=dbserver.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "System check identified no issues (0 silenced).\n"
    assert done.stderr == ""  # no RuntimeDirWarning from platformdirs
    if not running_before:  # the command started the server: it stopped it on exit
        assert not dbserver.embedded_server_running()


def test_set_and_reachable_database_url_is_used(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example:5432/x")
    # Without the fallback flag a configured server is used as given (make run).
    assert dbserver.database_url() == "postgresql://u@db.example:5432/x"


def test_unreachable_database_url_falls_back_to_embedded_server(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nothing")
    url = dbserver.database_url(fallback_when_unreachable=True)
    assert "127.0.0.1:1" not in url
    assert str(dbserver.EMBEDDED_PGDATA) in url
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW data_directory")
            assert cursor.fetchone()[0] == str(dbserver.EMBEDDED_PGDATA)
    finally:
        connection.close()


def test_unset_database_url_uses_embedded_server(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert str(dbserver.EMBEDDED_PGDATA) in dbserver.database_url()


def test_settings_url_of_the_embedded_socket_keeps_socket_and_test_database():
    # What settings hold for the embedded server once pytest-django has switched to the
    # test database: no HOST, the socket directory as an option.
    db = {
        **dj_database_url.parse("postgresql://postgres:@/postgres?host=/srv/app/.data/pg"),
        "NAME": "test_postgres",
    }
    parsed = parse_dsn(dbserver.settings_url(db))
    assert parsed == {"user": "postgres", "dbname": "test_postgres", "host": "/srv/app/.data/pg"}


def test_settings_url_quotes_credentials_and_keeps_port_and_options():
    db = dj_database_url.parse("postgresql://bot:p%40ss%2Fw@db.example:6543/app?sslmode=require")
    url = dbserver.settings_url(db, database="postgres")
    assert parse_dsn(url) == {
        "user": "bot",
        "password": "p@ss/w",
        "host": "db.example",
        "port": "6543",
        "dbname": "postgres",
        "sslmode": "require",
    }


def test_connection_url_reaches_the_database_this_process_uses(db):
    probe = "SELECT current_database(), current_setting('data_directory')"
    with connection.cursor() as cursor:
        cursor.execute(probe)
        here = cursor.fetchone()
    child = psycopg2.connect(dbserver.connection_url())
    try:
        with child.cursor() as cursor:
            cursor.execute(probe)
            assert cursor.fetchone() == here
    finally:
        child.close()
    assert here[0] == connection.settings_dict["NAME"]  # the test database, not its origin


def test_setup_creates_a_database_the_url_names_and_nobody_created(db, monkeypatch):
    from django.db import connections

    name = f"bragabot_new_{os.getpid()}"
    settings_dict = {**connections["default"].settings_dict, "NAME": name}
    monkeypatch.setitem(connections["default"].__dict__, "settings_dict", settings_dict)
    try:
        assert dbserver.database_ensure() == name
        psycopg2.connect(dbserver.settings_url(settings_dict), connect_timeout=5).close()
        assert dbserver.database_ensure() is None  # there now: nothing to do
    finally:
        admin = psycopg2.connect(dbserver.settings_url(settings_dict, database="postgres"))
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def test_a_server_that_refuses_for_another_reason_is_not_papered_over(db, monkeypatch):
    from django.db import connections

    settings_dict = {**connections["default"].settings_dict, "USER": "no_such_role_here"}
    monkeypatch.setitem(connections["default"].__dict__, "settings_dict", settings_dict)
    with pytest.raises(psycopg2.OperationalError, match="no_such_role_here"):
        dbserver.database_ensure()
