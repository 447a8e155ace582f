"""The demo's X feed as ``make run`` sets it up, on the sandbox Telegram and the sandbox X:
the demo group is created and bound, it forwards the demo project's account (again and
again without a new audit entry, as each run does), and the project posts now and then
until stopped."""

from __future__ import annotations

import time

from django_tenants.utils import tenant_context

from community.models import Group
from devserver.demo import (
    DEMO_GROUP_ID,
    DemoPoster,
    demo_forwarding_ensure,
    demo_group_ensure,
)
from history.models import Entry
from tests.helpers import bot_id_of, on_sandbox
from xfeed.models import Forwarding

X_TOKEN = "demo-test-x-app-token"


def test_the_demo_group_forwards_the_project_on_every_run(make_tenant, tg, x_server, settings):
    x_server.reset()
    x_server.add_app(X_TOKEN)
    x_server.add_account("bragabot_demo", account_id=42)
    settings.X_API_BASE, settings.X_BEARER_TOKEN = x_server.base_url, X_TOKEN
    alice = tg.add_user(9_100_001, "Alice", username="alice")
    tenant = make_tenant(owner_telegram_id=alice["id"])
    on_sandbox(tg, tenant)
    for _ in range(2):  # two runs of make run: the second finds everything in place
        chat_id = demo_group_ensure(
            tenant=tenant, tg=tg, bot_id=bot_id_of(tenant), owner_id=alice["id"]
        )
        demo_forwarding_ensure(tenant=tenant, chat_id=chat_id, username="bragabot_demo")
    assert chat_id == DEMO_GROUP_ID
    with tenant_context(tenant):
        group = Group.objects.get(chat_id=DEMO_GROUP_ID)
        assert group.effective_features["tweet_forwarding"] is True
        [forwarding] = Forwarding.objects.select_related("account")
        assert (forwarding.chat_id, forwarding.account.x_user_id) == (DEMO_GROUP_ID, 42)
    assert Entry.objects.filter(tenant_id=tenant.pk, action="xfeed.forwarding_set").count() == 1
    assert Entry.objects.filter(tenant_id=tenant.pk, action="group.bound").count() == 1


def test_the_project_posts_now_and_then_until_stopped(x_server):
    x_server.reset()
    x_server.add_account("bragabot_demo")
    poster = DemoPoster(x_server, "bragabot_demo", every=(0.05, 0.1), first_after=0.0)
    poster.start()
    deadline = time.monotonic() + 10
    while poster.posted < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    poster.stop()
    posts = x_server.snapshot()["posts"]
    assert len(posts) >= 3
    assert len({p["text"] for p in posts}) == len(posts)  # varied texts
    stopped_at = len(posts)
    time.sleep(0.3)
    assert len(x_server.snapshot()["posts"]) == stopped_at
