"""``/myrewards`` on the sandbox Telegram: in private, the user's rewards in this
community's settled raids (totals and the latest); in a group, a pointer to the private
chat; nothing yet, said so."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from raids.handlers.rewards import IN_PRIVATE, NONE_YET
from raids.services.settlement import raid_settle
from raids.telegram import handlers
from tests.helpers import application_process, sandbox_application, tenant_bot_token
from tests.raids.helpers import raid_ended


@pytest.fixture
def ask(raid_scene):
    application = sandbox_application(
        raid_scene.tg, tenant_bot_token(raid_scene.tenant), handlers()
    )

    def say(user_id: int, text: str, chat_id: int | None = None) -> str:
        chat = chat_id or user_id
        update = raid_scene.tg.send_message(raid_scene.bot_id, chat, user_id, text)
        application_process(application, update)
        return raid_scene.tg.sent(raid_scene.bot_id, chat)[-1]["text"]

    return say


def test_myrewards_lists_the_users_rewards_in_private(raid_scene, make_raid, scored, ask):
    first = make_raid(raid_scene, pool=1_000_000, title="Launch")
    ann = scored(raid_scene, first, "ann", 15, ("verified", "verified"))
    scored(raid_scene, first, "bob", 5, ("verified",))
    raid_settle(tenant=raid_scene.tenant, raid=raid_ended(raid_scene, first))
    with tenant_context(raid_scene.tenant):
        first.refresh_from_db()
    assert ask(ann.user_id, "/myrewards").splitlines() == [
        "Your raid rewards: 0.75 USDT",
        "Launch: 15 points, 0.75 USDT",
    ]
    assert ask(ann.user_id, "/myrewards", chat_id=raid_scene.chat_id) == IN_PRIVATE
    assert ask(raid_scene.owner["id"], "/myrewards") == NONE_YET
