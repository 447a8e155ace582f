"""The demo's raid as ``make run`` sets it up on the sandboxes: Alice's X account is linked
once and keeps its id from run to run; each run cancels the last run's open raid (its
post went with the sandbox) and opens a funded raid on a fresh post, which Alice joins
and sees her repost verified."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from accounts.models import TelegramUser
from devserver.demo import demo_group_ensure
from devserver.raid_demo import (
    DEMO_X_ALICE,
    DEMO_X_ALICE_ID,
    POOL,
    demo_alice_link,
    demo_raid_ensure,
)
from raids.models import Raid, Result
from raids.services.participation import raid_join
from raids.validation.passes import raid_validate
from tests.helpers import bot_id_of, on_sandbox
from wallet.models import Hold
from xclient.models import XLink

X_TOKEN = "demo-raid-test-x-app-token"


def test_each_run_opens_a_funded_raid_alice_can_join_and_complete(
    make_tenant, tg, x_server, settings
):
    settings.X_API_BASE, settings.X_BEARER_TOKEN = x_server.base_url, X_TOKEN
    alice = tg.add_user(9_200_001, "Alice", username="alice")
    tenant = make_tenant(owner_telegram_id=alice["id"])
    on_sandbox(tg, tenant)
    chat_id = demo_group_ensure(
        tenant=tenant, tg=tg, bot_id=bot_id_of(tenant), owner_id=alice["id"]
    )

    runs = []
    for _ in range(2):  # two runs of make run, each on a fresh sandbox X
        x_server.reset()
        x_server.add_app(X_TOKEN, app_id="platform")
        x_server.add_account("bragabot_demo", account_id=42)
        demo_alice_link(tenant=tenant, x=x_server, telegram_id=alice["id"])
        runs.append(
            demo_raid_ensure(tenant=tenant, x=x_server, chat_id=chat_id, project="bragabot_demo")
        )
    first, second = (run.raid for run in runs)
    [link] = XLink.objects.filter(user__telegram_id=alice["id"])
    assert (link.x_user_id, link.username) == (int(DEMO_X_ALICE_ID), DEMO_X_ALICE)
    with tenant_context(tenant):
        assert Raid.objects.get(pk=first.pk).status == Raid.Status.CANCELLED
        assert Raid.objects.get(pk=second.pk).status == Raid.Status.ACTIVE
    assert Hold.objects.get(pk=first.hold_id).status == Hold.Status.CANCELLED
    assert Hold.objects.get(pk=second.hold_id).amount == POOL

    user = TelegramUser.objects.get(telegram_id=alice["id"])
    participant, _ = raid_join(tenant=tenant, raid=second, user=user, confirmed=True)
    x_server.repost(DEMO_X_ALICE, str(second.post_id))
    raid_validate(tenant=tenant, raid=second, final=False)
    with tenant_context(tenant):
        statuses = dict(
            Result.objects.filter(participant=participant).values_list("task__kind", "status")
        )
    assert statuses == {"repost": "verified", "like": "pending", "reply": "pending"}
