"""The API under schemathesis: every operation of /api/schema/, fuzzed on a tenant with its
bot by a user holding a valid initData signed by that bot, answers no 5xx, gives every
error as ``{"detail", "code"}``, and matches the schema it publishes."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from community.models import Group
from tenancy.services import chat_bind
from tests.helpers import init_data_for, tenant_bot_token

pytestmark = pytest.mark.django_db

# Examples per operation and generation mode: about 25 operations x 2 modes, a few
# seconds in all; derandomized, so every run (and CI) sends the same requests.
EXAMPLES = 15


def not_a_server_error(ctx: CheckContext, response, case) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"


def errors_carry_detail_and_code(ctx: CheckContext, response, case) -> None:
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("detail"), str) and body["detail"], body
        assert isinstance(body.get("code"), str) and body["code"], body


POSITIVE_CHECKS = [
    not_a_server_error,
    errors_carry_detail_and_code,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Data that breaks the schema must be refused with a 4xx, too.
NEGATIVE_CHECKS = [*POSITIVE_CHECKS, negative_data_rejection]


@pytest.fixture
def wsgi_app():
    """Django's WSGI application, keeping the test's database connection (and so its
    transaction) across requests, as Django's test client does."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield get_wsgi_application()
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def x_oauth_client(settings):
    """The platform's X OAuth client is configured (starting a connect flow asks X
    nothing: the consent URL is built locally)."""
    settings.X_OAUTH_CLIENT_ID = "fuzzed-oauth-client"


@pytest.fixture
def fuzzed(tg, x_server, settings, make_tenant, user_with_role, wsgi_app, x_oauth_client):
    """The schema served on a tenant's domain; the headers of its owner; the path values
    that reach real objects: a group bound to the tenant, its bot an administrator there
    on the sandbox Telegram (refreshing its admins calls Telegram); the sandbox X as the
    X API (forwarding an account looks it up there)."""
    x_server.reset()
    x_server.add_app("fuzzed-x-app-token")
    settings.X_API_BASE, settings.X_BEARER_TOKEN = x_server.base_url, "fuzzed-x-app-token"
    tenant = make_tenant()
    tg.add_bot(tenant_bot_token(tenant), username="fuzzed_bot")
    owner = tg.add_user(4242, "Owner", username="owner")
    user_with_role(tenant, "owner", user_id=owner["id"], username="owner")
    chat_id = -1_009_900_000_001
    tg.add_group(chat_id, title="Fuzzed")
    tg.set_member(chat_id, owner["id"], "creator")
    tg.set_member(chat_id, int(tenant_bot_token(tenant).split(":")[0]), "administrator")
    chat_bind(tenant=tenant, chat_id=chat_id, title="Fuzzed")
    with tenant_context(tenant):
        Group.objects.create(chat_id=chat_id, title="Fuzzed", bound_at=timezone.now())
    host = tenant.domains.first().domain
    headers = {
        "Host": host,
        "Authorization": "tma " + init_data_for(tenant, user_id=owner["id"], username="owner"),
    }
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json", wsgi_app, headers={"Host": host}
    )
    # Every request carries the owner's valid initData (its absence and forgeries are the
    # authentication tests' subject), and the API ignores query parameters it does not
    # know, as HTTP APIs do (cache busters): neither is generated as invalid input.
    schema.config.generation.update(with_security_parameters=False, allow_extra_parameters=False)
    return schema, headers, {"chat_id": chat_id}


def _fuzz(operation, mode: GenerationMode, headers: dict[str, str], path: dict) -> None:
    checks = NEGATIVE_CHECKS if mode is GenerationMode.NEGATIVE else POSITIVE_CHECKS

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path))
    def run(case) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    run()


# The operations in this many parts, each a test, so that the suite's workers share them.
SHARDS = 4


# It grows with the API, beyond the suite's default timeout.
@pytest.mark.timeout(400)
@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_operation_holds_its_schema_under_fuzzing(fuzzed, shard):
    schema, headers, real = fuzzed
    # In a fixed order, so that the shards together are every operation once.
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=lambda o: o.label)
    assert len(operations) >= 20
    failures: dict[str, str] = {}
    for operation in operations[shard::SHARDS]:
        # Generated path values (objects that do not exist), then the real ones if the
        # path takes them, so bodies reach the services.
        names = {p.name for p in operation.path_parameters}
        paths = [{}] + ([{n: real[n] for n in names}] if names and names <= set(real) else [])
        for path in paths:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    _fuzz(operation, mode, headers, path)
                except Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE  # nothing in it can be invalid
                except (Exception, BaseExceptionGroup) as exc:  # report every failure
                    failures[f"{operation.label} {path} ({mode.value})"] = str(exc)
    assert not failures, "\n\n".join(f"{label}:\n{why}" for label, why in failures.items())
