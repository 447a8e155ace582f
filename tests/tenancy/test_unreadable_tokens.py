"""A bot token that cannot be decrypted (FIELD_ENCRYPTION_KEY rotated without
re-encrypting, a corrupted row) costs that bot only: the tenant's API keeps answering, its
other bots keep verifying initData, and the bot itself is still known by its id."""

from __future__ import annotations

import json
import logging
import time

import pytest
from cryptography.fernet import Fernet

from config.encryption import decrypt
from tenancy.models import Bot
from tenancy.selectors import bot_tokens, tenant_bots
from tests.accounts.helpers import sign_ed25519
from tests.helpers import TenantClient

UNREADABLE_BOT = 770000001


pytestmark = pytest.mark.usefixtures("fresh_caches")


@pytest.fixture
def tenant_with_unreadable_bot(make_tenant):
    """A tenant with a good bot and a second one whose token was encrypted under a key the
    platform no longer has."""
    tenant = make_tenant()
    elsewhere = Fernet(Fernet.generate_key())
    token = f"{UNREADABLE_BOT}:AAH" + "u" * 32
    Bot.objects.create(
        tenant=tenant,
        telegram_id=UNREADABLE_BOT,
        token_encrypted=elsewhere.encrypt(token.encode()).decode(),
    )
    return tenant


def test_the_tenants_api_keeps_answering_for_its_other_bot(tenant_with_unreadable_bot, caplog):
    tenant = tenant_with_unreadable_bot

    with caplog.at_level(logging.ERROR, logger="tenancy.selectors"):
        response = TenantClient(tenant, user_id=4242, username="ann").get("/api/v1/me")

    assert response.status_code == 200, response.content
    assert response.json()["telegram_id"] == 4242
    [logged] = [r for r in caplog.records if r.getMessage() == "tenancy.bot_token_unreadable"]
    assert (logged.bot_id, logged.tenant_id) == (UNREADABLE_BOT, tenant.pk)


def test_the_bot_whose_token_is_unreadable_is_still_checked_by_telegrams_signature(
    tenant_with_unreadable_bot, telegram_key
):
    tenant = tenant_with_unreadable_bot
    user = {"id": 4343, "first_name": "Bea", "username": "bea"}
    fields = {"auth_date": str(int(time.time())), "user": json.dumps(user)}
    signed = sign_ed25519(fields, bot_id=UNREADABLE_BOT, private_key=telegram_key)
    client = TenantClient(tenant, user_id=4343)
    client.credentials(HTTP_AUTHORIZATION="tma " + signed)

    response = client.get("/api/v1/me")

    assert response.status_code == 200, response.content
    assert response.json()["telegram_id"] == 4343


def test_the_bot_stays_known_by_its_id_and_nobody_gets_a_token_for_it(
    tenant_with_unreadable_bot,
):
    tenant = tenant_with_unreadable_bot
    good = Bot.objects.filter(tenant=tenant).exclude(telegram_id=UNREADABLE_BOT).get()
    good_token = decrypt(good.token_encrypted)

    assert tenant_bots(tenant=tenant) == [(good.telegram_id, good_token), (UNREADABLE_BOT, "")]
    hosted = {bot_id: token for bot_id, token, t in bot_tokens() if t.pk == tenant.pk}
    assert hosted == {good.telegram_id: good_token, UNREADABLE_BOT: ""}
