"""``say(user, text)``: ``user`` writes ``text`` in the raid scene's group on the sandbox
Telegram, and the community's and the raids' handlers answer; returns what the bot sent
in the group meanwhile."""

from __future__ import annotations

import pytest

from community.telegram import handlers as community_handlers
from raids.telegram import handlers as raids_handlers
from tests.helpers import application_process, sandbox_application, tenant_bot_token


@pytest.fixture
def say(raid_scene):
    application = sandbox_application(
        raid_scene.tg,
        tenant_bot_token(raid_scene.tenant),
        [*community_handlers(), *raids_handlers()],
    )

    def run(user: dict, text: str) -> list[str]:
        tg = raid_scene.tg
        before = len(tg.sent(raid_scene.bot_id, raid_scene.chat_id))
        update = tg.send_message(raid_scene.bot_id, raid_scene.chat_id, user["id"], text)
        application_process(application, update)
        return [m["text"] for m in tg.sent(raid_scene.bot_id, raid_scene.chat_id)[before:]]

    run.application = application  # type: ignore[attr-defined]
    return run
