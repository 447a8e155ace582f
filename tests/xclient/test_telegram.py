"""The linking commands in a private chat with a community's bot, on the sandbox Telegram
and the sandbox X: /linkx answers a button to X's consent page, /linkx @handle a code to
post, /verifyx links the account that posted it, /myx shows the link, /unlinkx unlinks;
in a group they point to the private chat. What a bot update says is Telegram's word:
the links are ``confirmed``."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
import requests

from tests.helpers import (
    application_process,
    bot_id_of,
    on_sandbox,
    sandbox_application,
    tenant_bot_token,
)
from tests.xclient.helpers import LINK_CALLBACK
from xclient.models import XLink
from xclient.telegram import PRIVATE_ONLY, handlers


@pytest.fixture
def x(link_x, settings):
    settings.X_OAUTH_REDIRECT_URI = LINK_CALLBACK
    return link_x


@pytest.fixture
def bot(tg, tenant):
    bot_id = on_sandbox(tg, tenant)
    alice = tg.add_user(9901, "Alice", username="alice")
    application = sandbox_application(tg, tenant_bot_token(tenant), handlers())

    def say(text: str, chat_id: int | None = None) -> dict:
        update = tg.send_message(bot_id, chat_id or alice["id"], alice["id"], text)
        application_process(application, update)
        return tg.sent(bot_id, chat_id or alice["id"])[-1]

    return say


def test_linkx_by_code_then_verifyx_myx_and_unlinkx(bot, x):
    x.add_account("alice_x")
    assert bot("/myx")["text"] == "No X account is linked. Send /linkx to link one."
    asked = bot("/linkx @alice_x")["text"]
    code = asked.split("\n\n")[1]
    assert asked.startswith("Post this from @alice_x on X within 30 minutes")
    assert "Waiting for " + code in bot("/myx")["text"]
    assert "no recent post from @alice_x" in bot("/verifyx")["text"]

    x.post("alice_x", f"linking {code}")
    linked = bot("/verifyx")["text"]
    assert linked.startswith("Linked: @alice_x") and "0 followers" in linked
    assert XLink.objects.get().confirmed  # Telegram's word, not a tenant's
    assert bot("/myx")["text"] == linked
    assert bot("/unlinkx")["text"] == "@alice_x is unlinked."
    assert bot("/unlinkx")["text"] == "no X account is linked"


def test_linkx_answers_a_button_to_x_s_consent(bot, x, client):
    x.add_account("alice_x")
    answer = bot("/linkx")
    [[button]] = answer["reply_markup"]["inline_keyboard"]
    x.auto_approve("alice_x")
    back = urlparse(
        requests.get(button["url"], allow_redirects=False, timeout=10).headers["Location"]
    )
    assert client.get(f"{back.path}?{back.query}", secure=True).status_code == 200
    assert bot("/myx")["text"].startswith("Linked: @alice_x")


def test_refusals_are_replied_and_groups_point_to_the_private_chat(bot, x, tg, tenant):
    assert "X has no account @nobody" in bot("/linkx @nobody")["text"]
    assert "1 to 15 letters" in bot("/linkx @not-a-handle")["text"]
    assert bot("/verifyx")["text"].startswith("no code is waiting")
    tg.add_group(-100_555, title="Fans")
    tg.set_member(-100_555, 9901, "member")
    tg.set_member(-100_555, bot_id_of(tenant), "member")
    assert bot("/linkx", chat_id=-100_555)["text"] == PRIVATE_ONLY
