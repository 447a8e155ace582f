"""Linking end users' X accounts (xclient.links) against the sandbox X: X's OAuth 2.0
consent through tweepy's real PKCE flow, or a one-time code posted from the account;
one X account per Telegram user and one user per X account across every tenant, the
relink cooldown both ways (a controllable clock), two users racing for one account,
single-use states and codes, tokens refreshed when they expire, and the daily refresh
of followers in batches of 100 within the budget."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.db import IntegrityError, connection, transaction

from accounts.services import user_touch
from config.encryption import decrypt
from config.errors import ServiceError
from history.models import Entry
from tenancy.services import public_tenant_ensure
from tests.xclient.helpers import LINK_CALLBACK
from xclient import links
from xclient.links import (
    XAccount,
    link_code_start,
    link_code_verify,
    link_create,
    link_oauth_callback,
    link_oauth_start,
    link_remove,
    link_token,
    links_refresh,
)
from xclient.metering import budget_set
from xclient.models import Connect, LinkCode, XLink
from xclient.selectors import link_active, link_history

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def x(link_x, settings):
    settings.XLINK_RELINK_COOLDOWN_DAYS = 30
    return link_x


def person(telegram_id: int, name: str = "alice"):
    return user_touch(profile={"id": telegram_id, "username": name, "first_name": name.title()})


def account(x_user_id: int, username: str = "alice", followers: int = 10) -> XAccount:
    return XAccount(x_user_id=x_user_id, username=username, created_at=T0, followers=followers)


def approve(x, authorize_url: str, as_account: str) -> str:
    """``as_account`` approves on the sandbox X's consent page; X's redirect back."""
    x.auto_approve(as_account)
    answer = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303), answer.text
    return answer.headers["Location"]


# ---- OAuth --------------------------------------------------------------------------------
def test_oauth_links_the_account_x_names_with_its_age_and_followers(tenant, x):
    alice_x = x.add_account("alice")
    for fan in ("fan1", "fan2"):
        x.add_account(fan)
        x.follow(fan, "alice")
    alice = person(9101)
    url = link_oauth_start(user=alice, tenant=tenant, redirect_uri=LINK_CALLBACK, confirmed=True)
    assert "code_challenge_method=S256" in url
    assert "like.read" in url and "offline.access" in url

    link = link_oauth_callback(callback_url=approve(x, url, "alice"))
    assert (link.user_id, link.x_user_id, link.username) == (alice.pk, int(alice_x["id"]), "alice")
    assert link.followers == 2 and link.x_created_at is not None
    assert (link.via, link.tenant_id, link.confirmed) == ("oauth", tenant.pk, True)
    assert set(link.scopes.split()) == {"tweet.read", "users.read", "like.read", "offline.access"}
    token = decrypt(link.access_token)
    assert token and token not in link.access_token  # encrypted at rest
    created = Entry.objects.get(action="xclient.link_created")
    assert created.tenant_id == tenant.pk and created.actor_id == "9101"
    assert token not in str(created.data)
    assert not Connect.objects.exists()


def test_an_oauth_state_works_once(tenant, x):
    x.add_account("alice")
    url = link_oauth_start(
        user=person(9102), tenant=tenant, redirect_uri=LINK_CALLBACK, confirmed=True
    )
    back = approve(x, url, "alice")
    link_oauth_callback(callback_url=back)
    with pytest.raises(ServiceError) as again:
        link_oauth_callback(callback_url=back)
    assert again.value.code == "unknown_state"
    assert XLink.objects.count() == 1


def test_an_expired_oauth_state_links_nothing(tenant, x):
    x.add_account("alice")
    url = link_oauth_start(
        user=person(9103), tenant=tenant, redirect_uri=LINK_CALLBACK, confirmed=True
    )
    Connect.objects.update(started_at=datetime.now(UTC) - timedelta(minutes=11))
    with pytest.raises(ServiceError) as late:
        link_oauth_callback(callback_url=approve(x, url, "alice"))
    assert late.value.code == "unknown_state"
    assert not XLink.objects.exists()


def test_a_link_flow_never_becomes_a_community_credential(tenant, x):
    """The tokens of a user's link must not reach the tenant it went through."""
    from xclient.credentials import credential_connect_finish
    from xclient.models import Credential

    x.add_account("alice")
    url = link_oauth_start(
        user=person(9104), tenant=tenant, redirect_uri=LINK_CALLBACK, confirmed=True
    )
    back = approve(x, url, "alice")
    with pytest.raises(ServiceError):
        credential_connect_finish(tenant=tenant, callback_url=back, actor=_system())
    assert not Credential.objects.exists()
    assert link_oauth_callback(callback_url=back).username == "alice"


def _system():
    from history.services import SYSTEM

    return SYSTEM


def test_an_expired_token_is_refreshed_and_stored(tenant, x):
    x.add_account("alice")
    url = link_oauth_start(
        user=person(9105), tenant=tenant, redirect_uri=LINK_CALLBACK, confirmed=True
    )
    link = link_oauth_callback(callback_url=approve(x, url, "alice"))
    first, first_refresh = decrypt(link.access_token), decrypt(link.refresh_token)
    assert link_token(link=link) == first  # two hours left: as it is
    later = link.expires_at - timedelta(minutes=1)
    fresh = link_token(link=link, now=later)
    link.refresh_from_db()
    assert fresh != first and decrypt(link.access_token) == fresh
    assert decrypt(link.refresh_token) != first_refresh  # X rotates it
    me = requests.get(
        f"{x.base_url}/2/users/me", headers={"Authorization": f"Bearer {fresh}"}, timeout=10
    )
    assert me.json()["data"]["username"] == "alice"


def test_a_token_asked_for_while_the_link_is_removed_is_no_token(tenant, x):
    x.add_account("alice")
    alice = person(9107)
    url = link_oauth_start(user=alice, tenant=tenant, redirect_uri=LINK_CALLBACK, confirmed=True)
    stale = link_oauth_callback(callback_url=approve(x, url, "alice"))
    link_remove(user=alice, confirmed=True)  # meanwhile, in another request
    with pytest.raises(ServiceError) as gone:
        link_token(link=stale, now=stale.expires_at - timedelta(minutes=1))
    assert gone.value.code == "x_no_token"


def test_x_failing_to_say_who_approved_is_a_refusal_and_links_nothing(tenant, x, monkeypatch):
    x.add_account("alice")
    url = link_oauth_start(
        user=person(9108), tenant=tenant, redirect_uri=LINK_CALLBACK, confirmed=True
    )
    back = approve(x, url, "alice")

    class Down:
        def get_me(self, **_: object) -> None:
            raise requests.ConnectionError("X is down")

    monkeypatch.setattr(links, "x_client", lambda **_: Down())
    with pytest.raises(ServiceError) as refused:
        link_oauth_callback(callback_url=back)
    assert refused.value.code == "x_refused"
    assert not XLink.objects.exists()


def test_a_code_link_has_no_token(tenant, db):
    link = link_create(
        user=person(9106), tenant=tenant, account=account(1), via="code", confirmed=True
    )
    with pytest.raises(ServiceError) as none:
        link_token(link=link)
    assert none.value.code == "x_no_token"


# ---- the one-time code -------------------------------------------------------------------
def test_a_posted_code_links_the_author_x_names(tenant, x):
    alice_x = x.add_account("Alice_X")
    alice = person(9201)
    pending = link_code_start(user=alice, tenant=tenant, username="@alice_x", confirmed=True)
    assert pending.username == "Alice_X"  # as X spells it
    assert pending.expires_at - pending.created_at == timedelta(minutes=30)
    with pytest.raises(ServiceError) as early:
        link_code_verify(user=alice)
    assert early.value.code == "code_not_found" and pending.code in early.value.message

    x.post("Alice_X", f"linking my account {pending.code} gm")
    link = link_code_verify(user=alice)
    assert (link.x_user_id, link.username, link.via) == (int(alice_x["id"]), "Alice_X", "code")
    assert not link.access_token
    assert not LinkCode.objects.exists()
    with pytest.raises(ServiceError) as twice:  # the code works once
        link_code_verify(user=alice)
    assert twice.value.code == "no_pending_code"
    issued = Entry.objects.get(action="xclient.link_code_issued")
    assert issued.data == {"username": "Alice_X"} and pending.code not in str(issued.data)


def test_a_code_posted_by_another_account_links_nothing(tenant, x):
    x.add_account("alice")
    x.add_account("mallory")
    alice = person(9202)
    pending = link_code_start(user=alice, tenant=tenant, username="alice", confirmed=True)
    x.post("mallory", pending.code)  # somebody else posts it: not from @alice
    with pytest.raises(ServiceError) as refused:
        link_code_verify(user=alice)
    assert refused.value.code == "code_not_found"
    assert not XLink.objects.exists()


def test_a_repost_or_quote_of_somebody_else_s_code_links_nothing(tenant, x):
    # Mallory asks to link @alice and gets Alice to repost (or quote) a post with the code:
    # the repost's text carries the code, but the words are not Alice's.
    x.add_account("alice")
    x.add_account("mallory")
    mallory = person(9206)
    pending = link_code_start(user=mallory, tenant=tenant, username="alice", confirmed=True)
    bait = x.post("mallory", f"repost to enter the giveaway {pending.code}")
    x.repost("alice", bait["id"])
    x.quote("alice", bait["id"], f"entering {pending.code}")
    with pytest.raises(ServiceError) as refused:
        link_code_verify(user=mallory)
    assert refused.value.code == "code_not_found"
    assert not XLink.objects.exists()


def test_an_expired_code_an_unknown_handle_and_a_bad_handle_are_refused(tenant, x):
    x.add_account("alice")
    alice = person(9203)
    with pytest.raises(ServiceError) as unknown:
        link_code_start(user=alice, tenant=tenant, username="nobody_here", confirmed=True)
    assert (unknown.value.code, unknown.value.status) == ("x_user_not_found", 404)
    for bad in ("", "@", "has space", "a" * 16, "é"):
        with pytest.raises(ServiceError) as invalid:
            link_code_start(user=alice, tenant=tenant, username=bad, confirmed=True)
        assert invalid.value.code == "invalid_username", bad
    pending = link_code_start(user=alice, tenant=tenant, username="alice", confirmed=True)
    x.post("alice", pending.code)
    with pytest.raises(ServiceError) as expired:
        link_code_verify(user=alice, now=pending.expires_at)
    assert expired.value.code == "code_expired"
    assert not LinkCode.objects.exists() and not XLink.objects.exists()


def test_the_code_search_is_billed_to_the_tenant_the_user_came_through(make_tenant, x):
    from xclient.models import Usage

    a, b = make_tenant(), make_tenant()
    x.add_account("alice")
    alice = person(9204)
    pending = link_code_start(user=alice, tenant=b, username="alice", confirmed=True)
    x.post("alice", pending.code)
    link_code_verify(user=alice)
    assert not Usage.objects.filter(tenant=a).exists()
    assert Usage.objects.get(tenant=b).user_reads >= 1


# ---- one X account, one Telegram user ----------------------------------------------------
def test_an_x_account_linked_through_one_tenant_is_taken_in_every_other(make_tenant, x):
    a, b = make_tenant(), make_tenant()
    x.add_account("alice")
    url = link_oauth_start(user=person(9301), tenant=a, redirect_uri=LINK_CALLBACK, confirmed=True)
    link_oauth_callback(callback_url=approve(x, url, "alice"))
    bob = person(9302, "bob")
    url = link_oauth_start(user=bob, tenant=b, redirect_uri=LINK_CALLBACK, confirmed=True)
    with pytest.raises(ServiceError) as taken:
        link_oauth_callback(callback_url=approve(x, url, "alice"))
    assert (taken.value.code, taken.value.status) == ("x_account_taken", 409)
    assert taken.value.message.startswith("x_account: @alice")
    with pytest.raises(ServiceError) as early:  # the code path says so before any post
        link_code_start(user=bob, tenant=b, username="alice", confirmed=True)
    assert early.value.code == "x_account_taken"
    assert link_active(user=bob) is None


def test_a_user_links_one_account_and_relinking_it_renews(tenant, db):
    alice = person(9303)
    first = link_create(user=alice, tenant=tenant, account=account(1), via="code", confirmed=True)
    with pytest.raises(ServiceError) as second:
        link_create(
            user=alice, tenant=tenant, account=account(2, "alt"), via="code", confirmed=True
        )
    assert (second.value.code, second.value.status) == ("already_linked", 409)
    again = link_create(
        user=alice, tenant=tenant, account=account(1, followers=99), via="code", confirmed=True
    )
    assert again.pk == first.pk and again.followers == 99
    assert Entry.objects.filter(action="xclient.link_renewed").count() == 1


def test_the_cooldown_holds_the_x_account_and_the_user_both_ways(tenant, db):
    alice, bob = person(9401), person(9402, "bob")
    link_create(user=alice, tenant=tenant, account=account(1), via="code", confirmed=True, now=T0)
    link_remove(user=alice, confirmed=True, now=T0 + timedelta(days=1))
    unlinked = T0 + timedelta(days=1)

    # The X account, to another user: not before 30 days after the unlink.
    with pytest.raises(ServiceError) as held:
        link_create(
            user=bob, tenant=tenant, account=account(1), via="code", confirmed=True,
            now=unlinked + timedelta(days=29, hours=23),
        )  # fmt: skip
    assert (held.value.code, held.value.status) == ("x_account_cooldown", 409)
    # The user, to another X account: the same.
    with pytest.raises(ServiceError) as mine:
        link_create(
            user=alice, tenant=tenant, account=account(2, "alt"), via="code", confirmed=True,
            now=unlinked + timedelta(days=29),
        )  # fmt: skip
    assert mine.value.code == "user_cooldown"
    # The same pair at once.
    back = link_create(
        user=alice, tenant=tenant, account=account(1), via="code", confirmed=True,
        now=unlinked + timedelta(minutes=5),
    )  # fmt: skip
    link_remove(user=alice, confirmed=True, now=unlinked + timedelta(minutes=10))
    assert back.unlinked_at is None
    later = unlinked + timedelta(minutes=10, days=30, seconds=1)
    assert (
        link_create(
            user=bob, tenant=tenant, account=account(1), via="code", confirmed=True, now=later
        ).user_id
        == bob.pk
    )
    assert (
        link_create(
            user=alice,
            tenant=tenant,
            account=account(2, "alt"),
            via="code",
            confirmed=True,
            now=later,
        ).user_id
        == alice.pk
    )
    assert [link.user_id for link in link_history(x_user_id=1)] == [bob.pk, alice.pk, alice.pk]


def test_the_cooldown_is_configurable(tenant, db, settings):
    settings.XLINK_RELINK_COOLDOWN_DAYS = 2
    alice, bob = person(9403), person(9404, "bob")
    link_create(user=alice, tenant=tenant, account=account(1), via="code", confirmed=True, now=T0)
    link_remove(user=alice, confirmed=True, now=T0)
    with pytest.raises(ServiceError):
        link_create(
            user=bob, tenant=tenant, account=account(1), via="code", confirmed=True,
            now=T0 + timedelta(days=1),
        )  # fmt: skip
    link_create(
        user=bob, tenant=tenant, account=account(1), via="code", confirmed=True,
        now=T0 + timedelta(days=2, seconds=1),
    )  # fmt: skip


def test_a_link_only_a_tenant_vouched_for_neither_blocks_nor_is_unlinked_by_one(tenant, db):
    """A tenant's owner signs initData for anybody: a link they make for Alice (with an X
    account they hold) does not start Alice's cooldown, and Alice's own link is not
    unlinked on their word."""
    alice = person(9405)
    link_create(
        user=alice, tenant=tenant, account=account(66, "owners"), via="oauth", confirmed=False
    )
    link_remove(user=alice, confirmed=True)
    mine = link_create(user=alice, tenant=tenant, account=account(1), via="code", confirmed=True)
    with pytest.raises(ServiceError) as forged:
        link_remove(user=alice, confirmed=False)
    assert (forged.value.code, forged.value.status) == ("telegram_confirmation_required", 403)
    assert link_active(user=alice) == mine


def test_unlinking_keeps_the_row_forgets_the_tokens_and_is_audited(tenant, x):
    x.add_account("alice")
    alice = person(9406)
    url = link_oauth_start(user=alice, tenant=tenant, redirect_uri=LINK_CALLBACK, confirmed=True)
    link_oauth_callback(callback_url=approve(x, url, "alice"))
    gone = link_remove(user=alice, confirmed=True)
    gone.refresh_from_db()
    assert gone.unlinked_at is not None and not gone.access_token and not gone.refresh_token
    assert Entry.objects.get(action="xclient.link_removed").data["username"] == "alice"
    with pytest.raises(ServiceError) as again:
        link_remove(user=alice, confirmed=True)
    assert (again.value.code, again.value.status) == ("not_linked", 404)


def test_the_database_refuses_two_active_links_of_one_x_account_or_one_user(tenant, db):
    alice, bob = person(9501), person(9502, "bob")
    row = {"tenant": tenant, "via": "code", "linked_at": T0, "refreshed_at": T0}
    XLink.objects.create(user=alice, x_user_id=1, username="a", **row)
    with pytest.raises(IntegrityError), transaction.atomic():
        XLink.objects.create(user=bob, x_user_id=1, username="a", **row)
    with pytest.raises(IntegrityError), transaction.atomic():
        XLink.objects.create(user=alice, x_user_id=2, username="b", **row)
    XLink.objects.create(user=bob, x_user_id=1, username="a", unlinked_at=T0, **row)  # history


@pytest.mark.django_db(transaction=True)
def test_two_users_racing_for_one_x_account_one_wins_the_other_gets_409():
    platform = public_tenant_ensure(domain="race.test")
    users = [person(9601 + n, f"racer{n}") for n in range(4)]
    start = threading.Barrier(len(users))
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(user) -> None:
        try:
            start.wait()
            try:
                link_create(
                    user=user, tenant=platform, account=account(4242), via="code", confirmed=True
                )
                outcome = "linked"
            except ServiceError as exc:
                outcome = exc.code
            except IntegrityError:
                outcome = "integrity_error"
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["linked"] + ["x_account_taken"] * 3, outcomes
    assert XLink.objects.filter(x_user_id=4242, unlinked_at__isnull=True).count() == 1


# ---- refreshing ---------------------------------------------------------------------------
def _linked(x, count: int, *, tenant, at: datetime) -> list[dict]:
    accounts = [x.add_account(f"acct{n}") for n in range(count)]
    for n, made in enumerate(accounts):
        link = XLink.objects.create(
            user=person(9700 + n, f"u{n}"),
            tenant=tenant,
            x_user_id=int(made["id"]),
            username=f"old{n}",
            via="code",
            linked_at=at,
            refreshed_at=at,
        )
        assert link.followers == 0
    return accounts


def test_refresh_reads_100_accounts_a_call_and_skips_fresh_links(tenant, x):
    platform = public_tenant_ensure()
    now = datetime.now(UTC)
    accounts = _linked(x, 150, tenant=tenant, at=now - timedelta(days=2))
    x.follow("acct1", "acct0")
    fresh = XLink.objects.get(username="old149")
    XLink.objects.filter(pk=fresh.pk).update(refreshed_at=now - timedelta(hours=1))

    assert links_refresh(tenant=platform, now=now) == 149
    lookups = [c for c in x.calls(path="/2/users") if c["status"] == 200]
    assert [len(c["query"]["ids"].split(",")) for c in lookups] == [100, 49]
    zero = XLink.objects.get(x_user_id=int(accounts[0]["id"]))
    assert (zero.username, zero.followers, zero.refreshed_at) == ("acct0", 1, now)
    assert XLink.objects.get(pk=fresh.pk).username == "old149"  # refreshed an hour ago
    assert links_refresh(tenant=platform, now=now) == 0  # nothing older than a day


def test_a_refused_read_ends_the_round_quietly_and_the_rest_waits(tenant, x):
    platform = public_tenant_ensure()
    budget_set(tenant=platform, monthly_cap_micros=100 * 10_000, actor=_system())  # 100 users
    now = datetime.now(UTC)
    _linked(x, 130, tenant=tenant, at=now - timedelta(days=2))
    assert links_refresh(tenant=platform, now=now) == 100
    assert len(x.calls(path="/2/users")) == 1  # the second batch never reached X
    assert XLink.objects.filter(refreshed_at__lt=now).count() == 30
    budget_set(tenant=platform, monthly_cap_micros=None, actor=_system())
    assert links_refresh(tenant=platform, now=now) == 30


def test_a_link_made_on_a_tenant_s_word_gives_way_to_one_telegram_vouched_for(tenant, db):
    # A brand owner can sign initData for anyone: their forged links must not take a
    # user's place, nor an account's.
    alice, mallory = person(9601), person(9602, "mallory")
    link_create(
        user=alice, tenant=tenant, account=account(501, "owners_x"), via="code", confirmed=False
    )
    link_create(user=mallory, tenant=tenant, account=account(502), via="code", confirmed=False)

    real = link_create(user=alice, tenant=tenant, account=account(502), via="oauth", confirmed=True)

    active = XLink.objects.filter(unlinked_at__isnull=True)
    assert [(link.user_id, link.x_user_id) for link in active] == [(alice.pk, 502)]
    assert real.confirmed
    displaced = Entry.objects.filter(action="xclient.link_displaced")
    assert sorted(e.data["x_user_id"] for e in displaced) == [501, 502]
    # A link Telegram vouched for is not displaced by another made on a tenant's word.
    with pytest.raises(ServiceError) as taken:
        link_create(user=mallory, tenant=tenant, account=account(502), via="code", confirmed=False)
    assert taken.value.code == "x_account_taken"


def test_a_tenant_s_word_neither_replaces_a_real_code_nor_unlinks_another_tenant_s_link(
    make_tenant, x
):
    a, b = make_tenant(), make_tenant()
    x.add_account("alice")
    x.add_account("owner_of_b")
    alice = person(9603)
    real = link_code_start(user=alice, tenant=a, username="alice", confirmed=True)
    with pytest.raises(ServiceError) as forged:
        link_code_start(user=alice, tenant=b, username="owner_of_b", confirmed=False)
    assert (forged.value.code, forged.value.status) == ("telegram_confirmation_required", 403)
    assert LinkCode.objects.get(user=alice).code == real.code

    bob = person(9604, "bob")
    link_create(user=bob, tenant=a, account=account(503, "bob"), via="code", confirmed=False)
    with pytest.raises(ServiceError) as elsewhere:
        link_remove(user=bob, confirmed=False, tenant=b)
    assert elsewhere.value.code == "telegram_confirmation_required"
    assert link_remove(user=bob, confirmed=False, tenant=a).unlinked_at is not None
