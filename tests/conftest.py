"""Shared fixtures: a real PostgreSQL test database with the public tenant and the
tenant-schema template built once per session; tenants created through the service;
empty per-process caches (``fresh_caches``) and a Telegram key of the suite's own
(``telegram_key``)."""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.db import connection, transaction

from tests.helpers import TenantClient, bot_token_for, mypy_run
from tests.service_policy import pytest_runtest_makereport  # noqa: F401 (a hook)

pytest_plugins = ["tests.sandbox_fixtures"]

_counter = itertools.count(1)


# Modules with the longest tests: they start first, so that with several workers
# (`make test` runs pytest-xdist) none of them is left running alone at the end.
SLOW_FIRST = ("tests/test_bench_smoke.py", "tests/config/test_schemathesis.py")


def pytest_configure(config):
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the controller did this
        return
    # Names this session for what its processes share (the type checker's run): always a
    # new name, so a run left behind by an earlier session is never read as this one's.
    os.environ["BRAGABOT_TEST_RUN"] = uuid.uuid4().hex
    if getattr(config.option, "numprocesses", None):
        # The workers start after this: they use the database this process resolved (the
        # embedded server it started, when DATABASE_URL is unset) instead of each
        # attaching to the server on its own; each creates its own test database there.
        from config.dbserver import connection_url_export

        connection_url_export()


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput"):
        shutil.rmtree(mypy_run().directory, ignore_errors=True)


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: not item.nodeid.startswith(SLOW_FIRST))
    # The type checker takes a minute from a cold cache: when its test was collected,
    # start it now, beside the rest of the suite, and let the test wait for its answer.
    if any(item.nodeid == "tests/test_types.py::test_mypy_reports_no_errors" for item in items):
        mypy_run().start()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from tenancy.schema_template import template_build
    from tenancy.services import public_tenant_ensure

    with django_db_blocker.unblock():
        public_tenant_ensure(domain="testserver")
        template_build()
        _schema_pool_build()
    yield


# Tenant schemas built once per session from the template. A test whose transaction is
# rolled back takes its tenants' schemas from here by renaming one (``make_tenant``): the
# rollback renames it back, with every row the test wrote gone, so building the same
# schema again (a third of a second each) is left to tenancy's own tests.
SCHEMA_POOL = tuple(f"pooled_schema_{n}" for n in range(8))


def _schema_pool_build() -> None:
    from tenancy.schema_template import schema_create_from_template

    with transaction.atomic():
        for name in SCHEMA_POOL:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            schema_create_from_template(name)
    connection.set_schema_to_public()


def _rolled_back(request: pytest.FixtureRequest) -> bool:
    """Whether the test runs in a transaction that is rolled back (not committed and
    flushed, as ``transaction=True`` tests are)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and (marker.kwargs.get("transaction") or marker.args[:1] == (True,)):
        return False
    return not {"transactional_db", "live_server"} & set(request.fixturenames)


def _schemas_from_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tenants created in this test get a pooled schema renamed to theirs; past the pool's
    size they are built from the template as in production."""
    from tenancy import services
    from tenancy.connection import schema_connection
    from tenancy.schema_template import SCHEMA_NAME

    free = list(SCHEMA_POOL)
    build = services.schema_create_from_template

    def from_pool(schema_name: str) -> None:
        if not free:
            build(schema_name)
            return
        if not SCHEMA_NAME.match(schema_name):
            raise ValueError(f"invalid schema name {schema_name!r}")
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER SCHEMA "{free.pop(0)}" RENAME TO "{schema_name}"')
        schema_connection.search_path_set_schemas = None

    monkeypatch.setattr(services, "schema_create_from_template", from_pool)


@pytest.fixture(scope="session", autouse=True)
def _flush_past_the_audit_triggers():
    """Transactional tests end with Django's flush, one TRUNCATE of every table, which the
    audit tables refuse (history migration 0004). The test database's superuser skips
    ordinary triggers for that statement, as only a superuser can."""
    ops = type(connection.ops)
    original = ops.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with transaction.atomic(using=self.connection.alias):
            with self.connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
            original(self, sql_list)

    ops.execute_sql_flush = execute_sql_flush
    yield
    ops.execute_sql_flush = original


@pytest.fixture(autouse=True)
def _runtimes_record_updates_in_the_test_transaction(settings):
    """A runtime started inside a test records updates on Django's database thread, where
    the test's transaction is; runtimes in child processes use their own threads."""
    settings.BOT_ACCEPT_THREADS = 0


@pytest.fixture(autouse=True)
def _public_schema_after_test():
    yield
    connection.set_schema_to_public()


@pytest.fixture
def make_tenant(db, request, monkeypatch):
    from tenancy.services import tenant_create

    if _rolled_back(request):
        _schemas_from_pool(monkeypatch)

    def make(slug: str | None = None, *, kind: str = "group", with_bot: bool = True, **kwargs):
        n = next(_counter)
        slug = slug or f"tenant-{n}"
        return tenant_create(
            slug=slug,
            name=kwargs.pop("name", slug.title()),
            kind=kind,
            domain=kwargs.pop("domain", f"{slug}.test"),
            bot_token=kwargs.pop("bot_token", bot_token_for(n) if with_bot else None),
            **kwargs,
        )

    return make


@pytest.fixture
def tenant(make_tenant):
    return make_tenant()


@pytest.fixture
def client_for():
    def make(tenant, **kwargs) -> TenantClient:
        return TenantClient(tenant, **kwargs)

    return make


@pytest.fixture
def user_with_role():
    """Create (or fetch) a Telegram user holding ``role`` in ``tenant``."""
    from accounts.services import membership_set_role, user_touch

    def make(tenant, role: str, *, user_id: int, username: str = "user"):
        user = user_touch(profile={"id": user_id, "username": username, "first_name": username})
        if role == "staff":
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        elif role != "member":
            membership_set_role(tenant=tenant, user=user, role=role)
        return user

    return make


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    """Host → tenant and tenant → bot tokens are cached per process; each test's tenants
    are rolled back, so the test starts and ends with empty caches."""
    from tenancy.middleware import host_cache_clear
    from tenancy.selectors import tenant_bots_forget

    host_cache_clear()
    tenant_bots_forget()
    yield
    host_cache_clear()
    tenant_bots_forget()


@pytest.fixture
def telegram_key(settings, monkeypatch) -> Ed25519PrivateKey:
    """A freshly generated key pair standing in for Telegram's: the public half is added to
    accounts.initdata.TELEGRAM_PUBLIC_KEYS under its own environment name and selected with
    settings.TELEGRAM_ENVIRONMENT (the production and test keys stay untouched)."""
    from accounts import initdata

    private = Ed25519PrivateKey.generate()
    public_hex = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    monkeypatch.setitem(initdata.TELEGRAM_PUBLIC_KEYS, "suite", public_hex)
    settings.TELEGRAM_ENVIRONMENT = "suite"
    return private
