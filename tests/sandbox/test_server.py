"""The sandbox Telegram's web page in a real browser (Debian's headless Chromium, driven by
playwright): a bot's deep-link button (``https://t.me/<bot>?start=<payload>``) opens the
private chat with that bot and sends ``/start <payload>`` as the person, as Telegram's apps
do (the raids' Join button), instead of leaving for the real t.me."""

from __future__ import annotations

import json
import os

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.sandbox.helpers import ALICE, BOT_ID, GROUP, TOKEN
from tests.service_policy import skip_service_missing

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        skip_service_missing("Chromium", f"no {CHROMIUM}; apt-get install chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


def test_a_deep_link_button_starts_the_bot_in_private_with_its_payload(world, browser):
    markup = {"inline_keyboard": [[{"text": "Join", "url": "https://t.me/loop_bot?start=raid_7"}]]}
    httpx.post(
        f"{world.base_url}/bot{TOKEN}/sendMessage",
        json={"chat_id": GROUP, "text": "New raid", "reply_markup": json.dumps(markup)},
    ).raise_for_status()
    page = browser.new_page()
    left: list[str] = []
    page.on("popup", lambda popup: left.append(popup.url))
    page.goto(f"{world.base_url}/sandbox/")
    page.select_option("#user-select", str(ALICE))
    page.select_option("#bot-select", str(BOT_ID))
    page.click("#tab-group")
    page.locator("#messages").get_by_role("button", name="Join").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#messages li')]"
        ".some((li) => li.textContent.includes('/start raid_7'))",
        timeout=10_000,
    )
    sent = [m["text"] for m in world.chat_messages(ALICE, bot_id=BOT_ID)]
    assert sent[-1] == "/start raid_7"
    assert left == []  # nothing opened outside the sandbox
