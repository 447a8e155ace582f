"""Forwarding through X: a handle is resolved on the sandbox X before anything is
written (an unknown one is refused naming ``username``, a refused read is its 429), the
account is kept by X's id (a renamed account keeps its forwarding), setting it again
changes the flags in place, the group's tweet_forwarding switch goes on, and every
change is audited; nothing crosses to another tenant's group."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from community.models import Group
from config.errors import ServiceError
from history.models import Entry
from history.services import Actor
from notifications.selectors import subscription_states
from notifications.services import subscriptions_update
from tests.xfeed.helpers import APP_TOKEN, aged, sim_now
from xclient.metering import budget_set
from xclient.reader import ReadRefused
from xfeed.models import Account, Forwarding
from xfeed.polling import tenant_poll
from xfeed.services import forwarding_remove, forwarding_set

ADMIN = Actor.user(4242)


def lookups(x) -> int:
    return len([c for c in x.calls() if c["path"].startswith("/2/users/by/username/")])


def test_forwarding_an_account_resolves_it_on_x_and_turns_forwarding_on(tenant, x, bound_group):
    chat = bound_group(tenant)
    forwarding = forwarding_set(
        tenant=tenant, chat_id=chat, username="@Project", include_replies=True, actor=ADMIN
    )
    project = x.snapshot()["accounts"]
    x_id = next(int(a["id"]) for a in project if a["username"] == "project")
    with tenant_context(tenant):
        account = Account.objects.get()
        assert (account.x_user_id, account.username, account.name) == (
            x_id,
            "project",
            "The Project",
        )
        row = Forwarding.objects.get()
        assert (row.chat_id, row.account_id, row.include_replies, row.include_reposts) == (
            chat,
            account.pk,
            True,
            False,
        )
        assert row.pk == forwarding.pk
        assert Group.objects.get(chat_id=chat).effective_features["tweet_forwarding"] is True
    entry = Entry.objects.get(action="xfeed.forwarding_set", tenant_id=tenant.pk)
    assert entry.data["x_user_id"] == x_id and entry.data["include_replies"] is True
    assert Entry.objects.filter(action="group.settings_updated", tenant_id=tenant.pk).count() == 1
    assert lookups(x) == 1


def test_setting_it_again_updates_in_place_and_follows_a_renamed_handle(tenant, x, bound_group):
    chat = bound_group(tenant)
    forwarding_set(tenant=tenant, chat_id=chat, username="project", actor=ADMIN)
    forwarding_set(tenant=tenant, chat_id=chat, username="project", actor=ADMIN)  # no change
    assert Entry.objects.filter(action="xfeed.forwarding_set", tenant_id=tenant.pk).count() == 1
    # The account changes its handle on X; the same id is found under the new one.
    x_id = next(int(a["id"]) for a in x.snapshot()["accounts"] if a["username"] == "project")
    x.reset()
    x.add_app(APP_TOKEN)
    x.add_account("project_v2", account_id=x_id)
    forwarding_set(
        tenant=tenant, chat_id=chat, username="project_v2", include_quotes=True, actor=ADMIN
    )
    with tenant_context(tenant):
        [account] = Account.objects.all()
        assert (account.x_user_id, account.username) == (x_id, "project_v2")
        [row] = Forwarding.objects.all()
        assert (row.include_quotes, row.include_replies) == (True, False)
    assert Entry.objects.filter(action="xfeed.forwarding_set", tenant_id=tenant.pk).count() == 2
    assert Entry.objects.filter(action="group.settings_updated", tenant_id=tenant.pk).count() == 1


@pytest.mark.parametrize("username", ["", "@", "no spaces", "a" * 16, "bad-dash", "@@x"])
def test_a_handle_x_cannot_have_is_refused_without_asking_x(tenant, x, bound_group, username):
    chat = bound_group(tenant)
    with pytest.raises(ServiceError) as refused:
        forwarding_set(tenant=tenant, chat_id=chat, username=username, actor=ADMIN)
    assert refused.value.code == "invalid_username"
    assert refused.value.message.startswith("username: ")
    assert lookups(x) == 0


def test_an_account_x_does_not_know_is_refused_naming_the_field(tenant, x, bound_group):
    chat = bound_group(tenant)
    with pytest.raises(ServiceError) as refused:
        forwarding_set(tenant=tenant, chat_id=chat, username="nobody_at_all", actor=ADMIN)
    assert (refused.value.code, refused.value.status) == ("unknown_x_account", 400)
    assert refused.value.message == "username: X has no account @nobody_at_all"
    with tenant_context(tenant):
        assert not Account.objects.exists() and not Forwarding.objects.exists()
        assert Group.objects.get(chat_id=chat).effective_features["tweet_forwarding"] is False
    assert not Entry.objects.filter(action__startswith="xfeed.", tenant_id=tenant.pk).exists()


def test_a_read_past_the_cap_is_a_429_and_writes_nothing(tenant, x, bound_group):
    chat = bound_group(tenant)
    budget_set(tenant=tenant, monthly_cap_micros=10_000, actor=Actor.system())
    forwarding_set(tenant=tenant, chat_id=chat, username="project", actor=ADMIN)  # the cap
    with pytest.raises(ReadRefused) as refused:
        forwarding_set(tenant=tenant, chat_id=chat, username="founder", actor=ADMIN)
    assert (refused.value.code, refused.value.status) == ("x_cap_reached", 429)
    assert lookups(x) == 1
    with tenant_context(tenant):
        assert list(Account.objects.values_list("username", flat=True)) == ["project"]


def test_only_a_bound_group_of_the_tenant_is_configured(make_tenant, x, bound_group):
    a, b = make_tenant(), make_tenant()
    b_chat = bound_group(b)
    with pytest.raises(ServiceError) as refused:
        forwarding_set(tenant=a, chat_id=b_chat, username="project", actor=ADMIN)
    assert (refused.value.code, refused.value.status) == ("group_not_found", 404)
    assert lookups(x) == 0  # refused before spending a read
    with tenant_context(b):
        assert not Forwarding.objects.exists()


def test_removing_stops_forwarding_and_is_audited(tenant, x, bound_group):
    chat = bound_group(tenant)
    other = bound_group(tenant)
    forwarding_set(tenant=tenant, chat_id=chat, username="project", actor=ADMIN)
    forwarding_set(tenant=tenant, chat_id=other, username="project", actor=ADMIN)
    with pytest.raises(ServiceError) as missing:
        forwarding_remove(tenant=tenant, chat_id=chat, username="founder", actor=ADMIN)
    assert (missing.value.code, missing.value.status) == ("forwarding_not_found", 404)
    assert missing.value.message.startswith("username: ")
    forwarding_remove(tenant=tenant, chat_id=chat, username="@PROJECT", actor=ADMIN)
    with tenant_context(tenant):
        assert list(Forwarding.objects.values_list("chat_id", flat=True)) == [other]
    entry = Entry.objects.get(action="xfeed.forwarding_removed", tenant_id=tenant.pk)
    assert entry.data["username"] == "project"


def test_removing_the_last_forwarding_switches_the_group_s_forwarding_off(tenant, x, bound_group):
    chat = bound_group(tenant)
    forwarding_set(tenant=tenant, chat_id=chat, username="project", actor=ADMIN)
    forwarding_set(tenant=tenant, chat_id=chat, username="founder", actor=ADMIN)

    def switched_on() -> bool:
        with tenant_context(tenant):
            return Group.objects.get(chat_id=chat).effective_features["tweet_forwarding"]

    forwarding_remove(tenant=tenant, chat_id=chat, username="founder", actor=ADMIN)
    assert switched_on() is True  # one account left to forward
    forwarding_remove(tenant=tenant, chat_id=chat, username="project", actor=ADMIN)
    assert switched_on() is False
    changes = Entry.objects.filter(action="group.settings_updated", tenant_id=tenant.pk)
    assert changes.count() == 2  # on with the first forwarding, off with the last


def test_x_out_of_reach_is_a_502_and_writes_nothing(tenant, x, bound_group, settings):
    chat = bound_group(tenant)
    settings.X_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(ServiceError) as refused:
        forwarding_set(tenant=tenant, chat_id=chat, username="project", actor=ADMIN)
    assert (refused.value.code, refused.value.status) == ("x_unavailable", 502)
    with tenant_context(tenant):
        assert not Account.objects.exists() and not Forwarding.objects.exists()


def test_a_group_that_opted_out_of_forwarded_posts_gets_them_again(tenant, x, bound_group):
    chat = bound_group(tenant)
    subscriptions_update(
        tenant=tenant, chat_id=chat, changes={"tweet.forwarded": False}, actor=ADMIN
    )
    forwarding_set(tenant=tenant, chat_id=chat, username="project", actor=ADMIN)
    states = {s.event: s.enabled for s in subscription_states(tenant=tenant, chat_id=chat)}
    assert states["tweet.forwarded"] is True


def test_what_the_admin_sets_is_what_the_feed_forwards(feed, xsim):
    """A group with nothing switched on: forwarding an account through the service is all
    it takes for the account's next post to be queued for the group."""
    project = aged(xsim, "project")[0]
    fans = feed(features=())
    forwarding_set(tenant=fans.tenant, chat_id=fans.chat_id, username="project", actor=ADMIN)
    xsim.post(project["id"], "gm from the project")
    tenant_poll(tenant=fans.tenant, now=sim_now(xsim))
    [queued] = fans.queued("tweet.forwarded")
    assert "gm from the project" in queued.text
