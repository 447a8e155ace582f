"""A white-label bot's whole life through the services and the local backend, for real:
created on a token the sandbox Telegram knows, deployed as a process of its own (the
tenant's plan isolates it), answering /start with the white-label kind's text; a brand
text set for that message is what it says next; deleted, its process is gone.

Committed tenants (``transaction=True``): the bot's process reads them on its own
connection to the test database."""

from __future__ import annotations

import os
import time

import pytest
from django_tenants.utils import tenant_context

from branding.services.bots import custom_bot_create, custom_bot_delete, custom_bot_deploy
from branding.services.texts import message_text_set
from config.dbserver import connection_url
from history.services import Actor
from provisioner.local import LocalBackend
from provisioner.processes import Backoff
from provisioner.spec import Status
from tests.branding.helpers import LOCAL, custom_token

pytestmark = pytest.mark.django_db(transaction=True)

ALICE = 6_200_001
OWNER = Actor.user(7302)


@pytest.fixture
def local(tmp_path, tg, settings):
    backend = LocalBackend(
        tmp_path / "bots",
        env={"DATABASE_URL": connection_url(), "TELEGRAM_API_BASE": tg.base_url},
        backoff=Backoff(initial=0.2, maximum=1.0),
        crash_limit=3,
    )
    LOCAL[:] = [backend]
    settings.PROVISIONER_BACKEND = "tests.branding.helpers:local_backend_of_test"
    settings.BOT_ISOLATED_PLANS = frozenset({"business"})
    yield backend
    backend.shutdown()
    LOCAL.clear()


def _reply(tg, bot_id: int) -> str:
    before = len(tg.sent(bot_id, ALICE))
    tg.send_message(bot_id, ALICE, ALICE, "/start")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sent = tg.sent(bot_id, ALICE)[before:]
        if sent:
            return sent[0]["text"]
        time.sleep(0.05)
    raise AssertionError("the bot did not answer")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_white_label_bot_deployed_locally_speaks_its_brand(local, make_tenant, tg):
    tenant = make_tenant(name="Acme", kind="client", plan="business")
    token = custom_token(41)
    tg.add_bot(token, username="acme_brand_bot")
    tg.add_user(ALICE, "Alice", username="alice", language_code="en")
    bot = custom_bot_create(
        tenant=tenant,
        token=token,
        kind="white_label",
        parameters={"brand_name": "Acme Rockets"},
        actor=OWNER,
    )
    assert bot.placement == "isolated"  # the plan gives it a process of its own
    key = {"tenant": tenant.slug, "bot_id": bot.telegram_id}

    custom_bot_deploy(tenant=tenant, bot_id=bot.telegram_id, actor=OWNER)
    local.wait(**key, status=Status.RUNNING)
    first_pid = local.pid(**key)
    assert first_pid is not None and first_pid != os.getpid()
    assert _reply(tg, bot.telegram_id).startswith("Welcome to Acme Rockets, Alice!")

    # The brand's own text for the welcome: the bot is redeployed and says it.
    with tenant_context(tenant):  # as the API's view runs it
        message_text_set(
            tenant=tenant,
            kind="white_label",
            language="en",
            key="welcome",
            text="Hey {first_name}, <this> is {brand_name}!",
            actor=OWNER,
        )
    local.wait(**key, status=Status.RUNNING)
    assert local.pid(**key) != first_pid
    assert _reply(tg, bot.telegram_id) == "Hey Alice, <this> is Acme Rockets!"

    # Deleted: its process is gone, and nothing answers any more.
    last_pid = local.pid(**key)
    custom_bot_delete(tenant=tenant, bot_id=bot.telegram_id, actor=OWNER)
    assert last_pid is not None and _gone(last_pid)
    assert local.status(**key).status is Status.PENDING
