"""``/api/docs/`` in a real browser (Debian's headless Chromium, driven by playwright):
Swagger UI comes from the platform itself and renders every operation of the schema
while every request to anywhere else is blocked."""

from __future__ import annotations

import json
import os
import urllib.request
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.test.testcases import LiveServerThread
from playwright.sync_api import sync_playwright

from tests.service_policy import skip_service_missing

CHROMIUM = "/usr/bin/chromium"
HOST = "testserver"  # the public tenant's domain in the test database


@pytest.fixture
def server(db):
    """The platform on a loopback port, static files (the sidecar's assets) included, as
    ``make run`` serves it. Its own connections see committed rows only: the public
    tenant and its domain, made once per session."""
    thread = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"{HOST}:{thread.port}"
    thread.terminate()


@pytest.fixture
def browser(server):
    if not os.access(CHROMIUM, os.X_OK):
        skip_service_missing("Chromium", f"no {CHROMIUM}; apt-get install chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",  # containers give /dev/shm little room
                f"--host-resolver-rules=MAP {HOST} 127.0.0.1",
            ],
        )
        yield chromium
        chromium.close()


def _schema_operations(server: str) -> set[tuple[str, str]]:
    # Over HTTP: while playwright's event loop runs, this thread may not use the ORM.
    port = server.rsplit(":", 1)[1]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/schema/?format=json", headers={"Host": HOST}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        schema = json.load(response)
    return {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_docs_page_renders_every_operation_offline(server, browser):
    page = browser.new_page()
    elsewhere: list[str] = []

    def only_the_platform(route) -> None:
        if urlsplit(route.request.url).netloc == server:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_platform)
    page.goto(f"http://{server}/api/docs/")
    page.wait_for_selector(".opblock-summary", timeout=30_000)
    shown = {
        (method, path)
        for method, path in page.eval_on_selector_all(
            ".opblock-summary",
            """blocks => blocks.map(b => [
                b.querySelector('.opblock-summary-method').textContent,
                b.querySelector('.opblock-summary-path').dataset.path,
            ])""",
        )
    }
    page.close()
    assert shown == _schema_operations(server)
    assert len(shown) > 10
    assert elsewhere == []
