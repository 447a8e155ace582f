"""``manage.py xfeed``: ``rules`` prints each community's compiled queries with its stream
tag and how it is read; ``run`` in its own process connects the platform's stream to
the sandbox X, and stops cleanly on SIGINT and SIGTERM (exit status 0: tweepy's thread
ended, nothing left running); a mode it does not know is refused; ``poll`` runs the
platform's shared round, or with ``--tenant`` one community's own."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import tenant_context

from config.dbserver import connection_url
from history.services import Actor
from sandbox.x import Limits
from tests.botruntime.helpers import process_running, wait_for_line
from tests.helpers import until
from tests.xfeed.helpers import PLATFORM_APP_TOKEN, make_feed
from xclient.credentials import credential_app_set
from xclient.models import RateWindow
from xclient.reader import PLATFORM_APP
from xfeed.models import Account, Forwarding
from xfeed.notices import EVENT_POST

X_LIMITS = Limits.off()


@pytest.fixture
def x(platform_x):
    return platform_x


def _run(*args: str) -> str:
    out = StringIO()
    call_command("xfeed", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def follow(tenant, x, username: str) -> None:
    user = x.add_account(username)
    with tenant_context(tenant):
        account = Account.objects.create(
            x_user_id=int(user["id"]), username=username, resolved_at=datetime.now(UTC)
        )
        Forwarding.objects.create(chat_id=-100, account=account)


def test_rules_lists_each_communitys_queries_and_how_it_is_read(x, make_tenant):
    streamed, own = make_tenant("streamed"), make_tenant("own-app")
    follow(streamed, x, "project")
    follow(own, x, "partner")
    credential_app_set(tenant=own, bearer_token="their-app", actor=Actor.system())
    lines = _run("rules").splitlines()
    assert lines[0] == f"streamed (t{streamed.pk}): stream, 1 quer(ies)"
    assert lines[1].split()[0].startswith(f"t{streamed.pk}:forward:")
    assert lines[1].split()[1].startswith("from:")
    assert lines[2] == f"own-app (t{own.pk}): polled (own X app), 1 quer(ies)"
    assert lines[-1] == "1 stream rule(s)"


def test_an_unknown_mode_is_refused(settings):
    settings.XFEED_MODE = "firehose"
    with pytest.raises(CommandError, match="XFEED_MODE must be stream or poll") as refused:
        _run("run")
    assert refused.value.returncode == 2


def test_the_stream_needs_the_platforms_token(settings):
    settings.X_BEARER_TOKEN = ""
    with pytest.raises(CommandError, match="X_BEARER_TOKEN is not set") as refused:
        _run("run", "--mode", "stream")
    assert refused.value.returncode == 2


def test_poll_runs_one_round_of_one_community(x, make_tenant, tg):
    feed = make_feed(make_tenant("polled"), tg, x)
    feed.follow(x.add_account("project"))
    x.post("project", "gm")
    out = _run("poll", "--tenant", "polled")
    assert out.startswith("polled: PollResult(searched=1, calls=1,")
    assert len(feed.queued(EVENT_POST)) == 1


def test_poll_without_a_community_runs_the_platforms_round(x, make_tenant, tg):
    a = make_feed(make_tenant("first"), tg, x)
    b = make_feed(make_tenant("second"), tg, x)
    a.follow(x.add_account("project"))
    b.follow(x.add_account("partner"))
    x.post("project", "gm")
    x.post("partner", "gm too")
    out = _run("poll")
    assert out.startswith("shared: 1 quer(ies) for 2 community(ies), searched 1, calls 1,")
    assert len(a.queued(EVENT_POST)) == 1 and len(b.queued(EVENT_POST)) == 1


def test_poll_of_an_unknown_community_is_refused(db):
    with pytest.raises(CommandError, match="no community 'nobody'"):
        _run("poll", "--tenant", "nobody")


def _committed_windows_forget() -> None:
    """The process's budget rows were committed (not in the test's transaction)."""

    def forget() -> None:
        try:
            RateWindow.objects.filter(credential="app:platform").delete()
        finally:
            connection.close()

    thread = threading.Thread(target=forget)
    thread.start()
    thread.join(30)


@pytest.mark.parametrize(
    ("mode", "sig", "started"),
    [
        ("stream", signal.SIGINT, "xfeed: streaming"),
        ("stream", signal.SIGTERM, "xfeed: streaming"),
        ("poll", signal.SIGINT, "xfeed: polling the platform"),
    ],
)
def test_run_until_a_signal_and_stop_cleanly(x, db, mode, sig, started):
    env = {
        **os.environ,
        "DATABASE_URL": connection_url(),
        "X_API_BASE": x.base_url,
        "X_BEARER_TOKEN": PLATFORM_APP_TOKEN,
        "XFEED_MODE": mode,
        "LOG_LEVEL": "WARNING",
    }
    try:
        with process_running(["manage.py", "xfeed", "run"], env) as (process, lines):
            assert "Ctrl-C to stop" in wait_for_line(lines, started)
            if mode == "stream":
                until(lambda: x.stream_connections() == [PLATFORM_APP], timeout=15)
            process.send_signal(sig)
            assert process.wait(timeout=30) == 0
            wait_for_line(lines, "xfeed: stopped", timeout=5)
            time.sleep(0.2)  # the reader thread has the last lines
            assert not [line for line in process.printed if "Traceback" in line]
    finally:
        _committed_windows_forget()
