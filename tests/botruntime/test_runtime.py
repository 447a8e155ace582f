"""The runtime end to end against the sandbox Telegram: long polling and webhooks, the
webhook's secret and database checks, dedupe, several bots in one process, the platform
bot's tenant resolution, and durable jobs ticking inside the runtime."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import logging
import re
import threading
import time
from datetime import timedelta

import aiohttp
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from cryptography.fernet import Fernet
from django.db import OperationalError, connection
from telegram import Update
from telegram.ext import CommandHandler, ContextTypes

import botruntime.runtime
from accounts.selectors import user_get
from botruntime import webhook_keys
from botruntime.checks import webhook_secret_key_check
from botruntime.context import in_tenant, tenant_of
from botruntime.management.commands.runbots import status_lines
from botruntime.models import Job, ProcessedUpdate
from botruntime.runtime import Runtime, collect_handlers
from botruntime.services import job_enqueue, jobs_claim
from botruntime.webhook_keys import webhook_secret, webhook_secret_for
from notifications.models import Recipient
from tenancy.models import Bot
from tenancy.services import chat_bind, tenant_suspend
from tests.botruntime.helpers import sent, serve
from tests.helpers import tenant_bot_token

_update_ids = itertools.count(900_000_001)
PLATFORM_TOKEN = "690000002:AAHplatform-bot-token-for-runtime-tests"
PLATFORM_BOT = 690000002


def _schema() -> str:
    return connection.schema_name


async def on_probe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A test handler: says which tenant the update resolved to, and in which schema
    ``in_tenant`` ran its code."""
    tenant = await tenant_of(update, context)
    schema = await in_tenant(tenant, _schema)
    await update.effective_message.reply_text(f"{tenant.slug} {schema}")


def with_probe() -> list:
    return [*collect_handlers(), (CommandHandler("probe", on_probe), 0)]


def _command_update(chat_id: int, user_id: int, text: str) -> dict:
    command = text.split()[0]
    return {
        "update_id": next(_update_ids),
        "message": {
            "message_id": next(_update_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Alice"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Alice"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


def test_long_polling_start_greets_registers_and_offers_the_mini_app(bot_community, person, tg):
    tenant, bot_id = bot_community(name="Moon Fans")
    alice = person("alice")
    runtime = Runtime(jobs=False, poll_timeout=1)

    async def scenario():
        assert bot_id in runtime.bots
        tg.send_message(bot_id, alice, alice, "/start")
        return await sent(tg, bot_id, alice)

    [reply] = serve(runtime, scenario)

    assert reply["text"].startswith("Welcome to Moon Fans, Alice!")
    [[button]] = reply["reply_markup"]["inline_keyboard"]
    assert button["web_app"]["url"] == f"https://{tenant.slug}.test/"
    assert user_get(telegram_id=alice).username == "alice"
    # Starting the community's bot in private makes Alice reachable by its bulk sends.
    recipient = Recipient.objects.get(tenant=tenant, user__telegram_id=alice)
    assert (recipient.chat_id, recipient.bot_id) == (alice, bot_id)
    [commands] = tg.calls(bot_id, "setMyCommands")
    names = [c["command"] for c in commands["params"]["commands"]]
    assert names[:3] == ["start", "help", "profile"]
    [menu] = tg.calls(bot_id, "setChatMenuButton")
    assert menu["params"]["menu_button"]["web_app"]["url"] == f"https://{tenant.slug}.test/"
    assert ProcessedUpdate.objects.filter(bot_id=bot_id).count() == 1


def test_help_and_profile(bot_community, person, tg, user_with_role):
    tenant, bot_id = bot_community(name="Moon Fans")
    bob = person("bob")
    user_with_role(tenant, "moderator", user_id=bob, username="bob")
    runtime = Runtime(jobs=False, poll_timeout=1)

    async def scenario():
        tg.send_message(bot_id, bob, bob, "/help")
        tg.send_message(bot_id, bob, bob, "/profile")
        return await sent(tg, bot_id, bob, count=2)

    help_reply, profile_reply = serve(runtime, scenario)

    assert "/start - Open the community app" in help_reply["text"]
    assert "/profile - Your profile and role in this community" in help_reply["text"]
    lines = profile_reply["text"].splitlines()
    assert lines[0] == "Bob (@bob)"
    assert "Role in Moon Fans: moderator" in lines
    assert "Can: moderate, view_analytics" in lines


def test_webhook_mode_secret_checks_database_down_and_dedupe(
    bot_community, person, tg, monkeypatch
):
    tenant, bot_id = bot_community()
    token = tenant_bot_token(tenant)
    alice = person("alice")
    runtime = Runtime(webhook=True, jobs=False)
    real_accept = botruntime.runtime.updates_accept
    database = {"down": False}

    def accept(**kwargs):
        if database["down"]:
            raise OperationalError("could not connect to server")
        return real_accept(**kwargs)

    monkeypatch.setattr(botruntime.runtime, "updates_accept", accept)

    async def scenario():
        url = f"{runtime.webhook_base}/telegram/webhook/{bot_id}"
        [registered] = tg.calls(bot_id, "setWebhook")
        assert registered["params"]["url"] == url
        secret = registered["params"]["secret_token"]
        assert secret == webhook_secret(bot_id) and token.split(":")[1] not in secret

        # Through the sandbox: delivered to the webhook, answered.
        first = tg.send_message(bot_id, alice, alice, "/help")
        await sent(tg, bot_id, alice, count=1)

        async with aiohttp.ClientSession() as http:

            async def post(payload: dict, secret_token: str | None, path: str = url) -> int:
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret_token} if secret_token else {}
                async with http.post(path, json=payload, headers=headers) as response:
                    return response.status

            probe = _command_update(alice, alice, "/help")
            statuses = {
                "wrong secret": await post(probe, "x" * 64),
                "no secret": await post(probe, None),
                "the token as secret": await post(probe, token),
                "the token's HMAC (v1)": await post(probe, _token_derived_secret(token)),
                "unknown bot": await post(
                    probe, secret, f"{runtime.webhook_base}/telegram/webhook/1"
                ),
                "redelivery": await post(first, secret),
            }
            database["down"] = True
            statuses["database down"] = await post(probe, secret)
        # While the database is down Telegram keeps retrying this one...
        tg.send_message(bot_id, alice, alice, "/profile")
        await asyncio.sleep(0.3)
        assert len(tg.sent(bot_id, alice)) == 1
        database["down"] = False
        # ...and it is answered once the database is back; the redelivered /help never was.
        return statuses, await sent(tg, bot_id, alice, count=2)

    statuses, replies = serve(runtime, scenario)

    assert statuses == {
        "wrong secret": 403,
        "no secret": 403,
        "the token as secret": 403,
        "the token's HMAC (v1)": 403,
        "unknown bot": 404,
        "redelivery": 200,
        "database down": 503,
    }
    assert len(replies) == 2
    assert replies[0]["text"].startswith("Commands:")
    assert replies[1]["text"].startswith("Alice (@alice)")
    assert ProcessedUpdate.objects.filter(bot_id=bot_id).count() == 2


def _token_derived_secret(token: str) -> str:
    """The secret of old, computable by whoever holds the bot's token."""
    return hmac.new(token.encode(), b"bragabot webhook secret v1", hashlib.sha256).hexdigest()


def test_webhook_secrets_rotate_and_the_previous_key_works_only_while_listed(
    bot_community, person, tg, settings
):
    old_key, new_key = "old-webhook-key-" + "o" * 32, "new-webhook-key-" + "n" * 32
    settings.BOT_WEBHOOK_SECRET_KEY = new_key
    settings.BOT_WEBHOOK_SECRET_KEY_PREVIOUS = old_key
    _, bot_id = bot_community()
    alice = person("alice")
    old, new = (webhook_secret_for(bot_id, key.encode()) for key in (old_key, new_key))
    runtime = Runtime(webhook=True, jobs=False)

    async def scenario():
        [registered] = tg.calls(bot_id, "setWebhook")
        url = f"{runtime.webhook_base}/telegram/webhook/{bot_id}"
        async with aiohttp.ClientSession() as http:

            async def post(secret: str) -> int:
                update = _command_update(alice, alice, "/help")
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
                async with http.post(url, json=update, headers=headers) as response:
                    return response.status

            during = {"new": await post(new), "old": await post(old)}
            settings.BOT_WEBHOOK_SECRET_KEY_PREVIOUS = ""  # the rollover is over
            after = {"new": await post(new), "old": await post(old)}
        return registered["params"]["secret_token"], during, after

    registered, during, after = serve(runtime, scenario)

    assert registered == new  # bots are (re-)registered with the current key's secret
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", registered)
    assert during == {"new": 200, "old": 200}
    assert after == {"new": 200, "old": 403}


def test_without_a_key_of_its_own_the_secret_is_derived_with_a_warning_and_deploy_refuses(
    settings, caplog
):
    settings.BOT_WEBHOOK_SECRET_KEY = ""
    settings.BOT_WEBHOOK_SECRET_KEY_PREVIOUS = ""
    settings.BOT_WEBHOOK_URL = "https://bots.example.org"
    webhook_keys._keys.cache_clear()
    token = "690000009:AAH" + "t" * 32

    with caplog.at_level(logging.WARNING, logger="botruntime.webhook_keys"):
        secret = webhook_secret(690000009)

    assert "botruntime.webhook_key_derived" in caplog.messages
    assert secret == webhook_secret(690000009) != _token_derived_secret(token)
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-000000000000"
    assert webhook_secret(690000009) != secret  # a server-side key, not the bot's token
    assert [e.id for e in webhook_secret_key_check()] == ["botruntime.E001"]
    settings.BOT_WEBHOOK_SECRET_KEY = "short"
    assert [e.id for e in webhook_secret_key_check()] == ["botruntime.E002"]
    settings.BOT_WEBHOOK_SECRET_KEY = "k" * 40
    assert webhook_secret_key_check() == []


def test_two_communities_bots_in_one_process_each_in_its_own_schema(bot_community, person, tg):
    (first, first_bot), (second, second_bot) = bot_community(), bot_community()
    alice = person("alice")
    runtime = Runtime(jobs=False, poll_timeout=1, handlers=with_probe)

    async def scenario():
        tg.send_message(first_bot, alice, alice, "/probe")
        tg.send_message(second_bot, alice, alice, "/probe")
        return (
            await sent(tg, first_bot, alice),
            await sent(tg, second_bot, alice),
        )

    [one], [two] = serve(runtime, scenario)

    assert one["text"] == f"{first.slug} {first.schema_name}"
    assert two["text"] == f"{second.slug} {second.schema_name}"


def test_the_platform_bot_serves_bound_groups_and_deep_links(bot_community, person, tg, settings):
    settings.PLATFORM_BOT_TOKEN = PLATFORM_TOKEN
    tg.add_bot(PLATFORM_TOKEN, username="bragabot")
    (grouped, _), (linked, _) = bot_community(), bot_community(name="Linked Club")
    alice = person("alice")
    chat = tg.add_group(title="Fans")["id"]
    tg.set_member(chat, alice, "member")
    tg.set_member(chat, PLATFORM_BOT, "administrator")
    chat_bind(tenant=grouped, chat_id=chat)
    runtime = Runtime(jobs=False, poll_timeout=1, handlers=with_probe, bot_ids=[PLATFORM_BOT])

    async def scenario():
        assert sorted(runtime.bots) == [PLATFORM_BOT]
        tg.send_message(PLATFORM_BOT, chat, alice, "/probe@bragabot")
        tg.send_message(PLATFORM_BOT, alice, alice, f"/start t-{linked.slug}")
        return await sent(tg, PLATFORM_BOT, chat), await sent(tg, PLATFORM_BOT, alice)

    [in_group], [greeting] = serve(runtime, scenario)

    assert in_group["text"] == f"{grouped.slug} {grouped.schema_name}"
    assert greeting["text"].startswith("Welcome to Linked Club, Alice!")
    [[button]] = greeting["reply_markup"]["inline_keyboard"]
    assert button["web_app"]["url"] == f"https://{linked.slug}.test/"


def test_a_bot_telegram_rejects_is_skipped_and_the_others_are_served(
    bot_community, person, tg, make_tenant
):
    _, good_bot = bot_community()
    refused = make_tenant()  # its bot is not on the sandbox: getMe answers 401
    alice = person("alice")
    runtime = Runtime(jobs=False, poll_timeout=1)

    async def scenario():
        assert sorted(runtime.bots) == [good_bot]
        tg.send_message(good_bot, alice, alice, "/help")
        return await sent(tg, good_bot, alice)

    [reply] = serve(runtime, scenario)
    assert reply["text"].startswith("Commands:")
    assert runtime.skipped == {_bot_id(refused): "telegram_refused"}


def test_a_bot_whose_token_cannot_be_decrypted_is_skipped_visibly_and_the_others_run(
    bot_community, person, tg, caplog
):
    _, good_bot = bot_community()
    broken, broken_bot = bot_community()
    # Encrypted under another key (FIELD_ENCRYPTION_KEY rotated without re-encrypting).
    token = tenant_bot_token(broken)
    other_key = Fernet(Fernet.generate_key())
    Bot.objects.filter(telegram_id=broken_bot).update(
        token_encrypted=other_key.encrypt(token.encode()).decode()
    )
    alice = person("alice")
    runtime = Runtime(jobs=False, poll_timeout=1)

    async def scenario():
        tg.send_message(good_bot, alice, alice, "/help")
        replies = await sent(tg, good_bot, alice)
        await runtime.refresh_bots()  # still skipped, not logged again
        return replies

    with caplog.at_level(logging.INFO):
        [reply] = serve(runtime, scenario)

    assert reply["text"].startswith("Commands:")
    assert runtime.skipped == {broken_bot: "token_unreadable"}
    assert status_lines(runtime)[1] == f"bot runtime: not serving {broken_bot} (token_unreadable)"
    assert not tg.calls(broken_bot, "getMe")
    skipped = [r for r in caplog.records if r.getMessage() == "botruntime.bot_skipped"]
    assert [(r.bot_id, r.reason) for r in skipped] == [(broken_bot, "token_unreadable")]
    [started] = [r for r in caplog.records if r.getMessage() == "botruntime.started"]
    assert (started.bots, started.skipped) == ([good_bot], {str(broken_bot): "token_unreadable"})
    assert not any(token in str(vars(r)) for r in caplog.records)


def _bot_id(tenant) -> int:
    return Bot.objects.get(tenant=tenant).telegram_id


def test_the_job_queue_ticks_claim_and_run_due_jobs(tg, job_kind, tenant):
    calls = job_kind("test.runtime", per_tenant=True)
    job = job_enqueue(kind="test.runtime", tenant=tenant, payload={"n": 1})
    runtime = Runtime(bot_ids=[], job_threads=0, job_tick=0.05, job_kinds=["test.runtime"])

    async def scenario():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status = await sync_to_async(lambda: Job.objects.get(pk=job.pk).status)()
            if status == "done":
                return status
            await asyncio.sleep(0.05)
        return status

    assert serve(runtime, scenario) == "done"
    assert calls == [{"tenant": tenant, "payload": {"n": 1}, "schema": tenant.schema_name}]
    # The schedule pass ran too: every recurring kind has its next run waiting.
    assert Job.objects.filter(kind="botruntime.updates_prune", status="pending").exists()
    assert Job.objects.filter(
        kind="community.groups_refresh", tenant=tenant, status="pending"
    ).exists()


def test_a_job_outliving_its_lease_keeps_it_and_runs_once(tg, job_kind, elsewhere):
    """The runtime renews a running job's lease: another runtime never takes it for a
    crashed one's while it still runs (without renewal it would after 0.6 s)."""
    started = threading.Event()

    def long_job(*, tenant, payload) -> None:
        started.set()
        time.sleep(2.0)

    job_kind("test.long", long_job, lease=timedelta(seconds=0.6))
    job_id = elsewhere(lambda: job_enqueue(kind="test.long").pk)
    runtime = Runtime(bot_ids=[], job_threads=1, job_tick=0.05, job_kinds=["test.long"])
    attempts_by_others: list[list[int]] = []

    async def scenario() -> str:
        assert await asyncio.to_thread(started.wait, 10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status = await asyncio.to_thread(elsewhere, lambda: Job.objects.get(pk=job_id).status)
            if status != "running":
                return status
            claimed = await asyncio.to_thread(
                elsewhere, lambda: jobs_claim(worker="other", limit=5, kinds=["test.long"])
            )
            attempts_by_others.append([j.pk for j in claimed])
            await asyncio.sleep(0.15)
        return status

    assert serve(runtime, scenario) == "done"
    assert len(attempts_by_others) >= 5  # asked well past the first lease...
    assert all(got == [] for got in attempts_by_others)  # ...and never handed it out
    row = elsewhere(lambda: Job.objects.values("attempts", "locked_by").get(pk=job_id))
    assert row == {"attempts": 1, "locked_by": runtime.worker[:100]}


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_stop_ends_every_task_the_runtime_started(bot_community, tg, mode):
    bot_community()
    runtime = Runtime(webhook=mode == "webhook", job_threads=0, poll_timeout=30)

    async def main():
        others = set(asyncio.all_tasks())
        await runtime.start()
        started = {t.get_name() for t in asyncio.all_tasks() - others}
        await runtime.stop()
        return started, asyncio.all_tasks() - others

    started, left = async_to_sync(main)()

    assert any(name.startswith("poll:") for name in started) == (mode == "polling")
    assert left == set()
    assert all(not h.application.running for h in runtime.bots.values())


def test_bots_added_suspended_or_rotated_are_followed_without_a_restart(bot_community, person, tg):
    _, first_bot = bot_community()
    alice = person("alice")
    runtime = Runtime(jobs=False, poll_timeout=1)

    async def scenario():
        assert sorted(runtime.bots) == [first_bot]
        # A community created while the runtime runs gets its bot served.
        later, later_bot = await sync_to_async(bot_community)(name="Late Club")
        await runtime.refresh_bots()
        assert sorted(runtime.bots) == sorted([first_bot, later_bot])
        tg.send_message(later_bot, alice, alice, "/start")
        [greeting] = await sent(tg, later_bot, alice)
        # Suspended: its bot is released (poller and application stopped).
        hosted = runtime.bots[later_bot]
        await sync_to_async(tenant_suspend)(tenant=later)
        await runtime.refresh_bots()
        return greeting, hosted

    greeting, released = serve(runtime, scenario)

    assert greeting["text"].startswith("Welcome to Late Club, Alice!")
    assert sorted(runtime.bots) == []  # all released by stop()
    assert released.stop.is_set() and all(t.done() for t in released.tasks)
    assert not released.application.running
