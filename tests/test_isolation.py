"""Tenant isolation: someone authenticated in tenant A can neither read nor change anything
of tenant B, through any API endpoint (present or added later: the endpoints come from the
URLconf, see tests/accounts/helpers.py)."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

import history.services as history
from accounts import initdata
from accounts.models import Membership, TelegramUser
from branding.models import Brand, CustomBot, MessageText
from community.models import ActivityDay, Group, GroupAdmin, ModerationAction
from community.services import moderation_rules_update
from history.models import Entry
from history.services import SYSTEM, Actor
from notifications.models import Broadcast, NotificationSettings, OutboxMessage
from notifications.services import (
    broadcast_create,
    broadcast_expand,
    notification_settings_update,
    recipient_register,
)
from raids.models import Contest, Giveaway, Raid, RaidTemplate
from tenancy.models import Bot, ChatBinding, Domain
from tenancy.selectors import tenant_bots_forget
from tenancy.services import chat_bind, tenant_delete, tenant_resume, tenant_suspend
from tests.accounts.helpers import Operation, api_operations, sign_ed25519
from tests.api_matrix import URL_KWARGS
from tests.helpers import TenantClient, init_data_for
from wallet.models import Account, Transfer
from wallet.models import Entry as LedgerEntry
from wallet.services import account_get_or_create, transfer_post
from xfeed.models import Account as XAccount
from xfeed.models import Forwarding, Kol, KolPost, Mention, MentionRule, Post

A_MARKER = "alpha-marker-4f1c"
B_MARKER = "bravo-secret-9d2e"
B_NAMES = B_MARKER.replace("-", "_")  # in B's users' usernames
A_OWNER, A_STAFF, B_OWNER, B_ADMIN = 8801, 8802, 8811, 8812
A_CHAT, B_CHAT = -1008800000001, -1008800000011


def custom_bot_id(chat: int) -> int:
    return -chat - 1_000_000_000_000


def _seed(tenant, *, marker: str, owner: int, admin: int | None, chat: int, user_with_role):
    """Owner (and admin) with marker names, an audit entry, a bound group with its admin, a
    broadcast with its message to the owner. Returns the broadcast's id."""
    owner_user = user_with_role(
        tenant, "owner", user_id=owner, username=f"{marker}_owner".replace("-", "_")
    )
    TelegramUser.objects.filter(telegram_id=owner).update(last_name=marker)
    if admin is not None:
        user_with_role(tenant, "admin", user_id=admin, username=f"{marker}_admin".replace("-", "_"))
    history.record(
        action="isolation.marker",
        actor=Actor.user(owner),
        tenant=tenant,
        target=("marker", marker),
        data={"marker": marker},
    )
    chat_bind(tenant=tenant, chat_id=chat, title=f"{marker} group")
    with schema_context(tenant.schema_name):
        group = Group.objects.create(
            chat_id=chat, title=f"{marker} group", welcome_text=f"welcome to {marker}"
        )
        GroupAdmin.objects.create(
            group=group, telegram_id=admin or owner, status="creator", custom_title=marker[:60]
        )
        # Moderation rules, a logged action and a leaderboard row, each carrying the marker.
        moderation_rules_update(
            tenant=tenant, chat_id=chat, rules={"blocklist": {"words": [marker]}}, actor=SYSTEM
        )
        ModerationAction.objects.create(
            group=group, user_id=owner, user_name=marker, rule="blocklist", action="delete"
        )
        ActivityDay.objects.create(
            group=group, user_id=owner, day=timezone.now().date(), messages=1, xp=1, name=marker
        )
        # The X feed: a forwarded account, a mention rule and a post it matched.
        x_account = XAccount.objects.create(
            x_user_id=owner, username="project", name=marker, resolved_at=timezone.now()
        )
        Forwarding.objects.create(chat_id=chat, account=x_account)
        rule = MentionRule.objects.create(chat_id=chat, name=marker, keywords=[marker])
        post = Post.objects.create(
            post_id=owner,
            author_id=owner,
            author_username="fan",
            kind="original",
            text=f"{marker} on X",
            created_at=timezone.now(),
            received_at=timezone.now(),
            via="poll",
        )
        Mention.objects.create(post=post, rule=rule, spam_reason="new_account")
        # The brand's own texts; B's brand too (A has none: applying A's brand stops
        # before it would call Telegram).
        MessageText.objects.create(
            kind="white_label", language="en", key="welcome", text=f"{marker} welcome"
        )
        if marker == B_MARKER:
            Brand.objects.create(
                pk=Brand.SINGLETON,
                display_name=marker,
                description=f"{marker} description",
                colors={"primary": "#ffffff", "accent": "#000000", "background": "#ffffff"}
                | {"text": "#000000"},
                logo_sha256="b" * 64,
                logo_64=marker.encode(),
            )
        # A custom bot (its Telegram id: the chat's digits, B's differ from A's).
        CustomBot.objects.create(
            telegram_id=custom_bot_id(chat),
            username=f"{marker}_bot".replace("-", "_"),
            kind="task",
            parameters={"campaign_name": marker, "tasks": []},
        )
    connection.set_schema_to_public()
    recipient_register(tenant=tenant, user=owner_user)
    bulk = broadcast_create(
        tenant=tenant,
        text=f"{marker} announcement",
        idempotency_key=f"isolation-{marker}",
        actor=Actor.user(owner),
    )
    broadcast_expand(bot_id=bulk.bot_id)
    assert OutboxMessage.objects.filter(broadcast=bulk).count() == 1
    # Funds of the group and of the owner, and of the other tenant's owner's Telegram id
    # here (a user has a wallet per tenant), each deposit carrying the marker.
    other_owner = B_OWNER if owner == A_OWNER else A_OWNER
    for owner_kind, owner_id in (("group", chat), ("user", owner), ("user", other_owner)):
        _deposit(tenant, owner_kind=owner_kind, owner_id=owner_id, marker=marker)
    return bulk.pk


def _seed_kols(tenant, *, marker: str, count: int) -> int:
    """``count`` KOLs, each with a post of today, carrying the marker (notes, campaign tag,
    post text); returns the last one's id. Ids are per schema: B gets more KOLs than A, so
    B's last id names no KOL of A."""
    with schema_context(tenant.schema_name):
        for n in range(count):
            kol = Kol.objects.create(
                x_user_id=9_000 + n,
                username=f"kol{n}",
                notes=marker,
                campaigns=[marker.replace("-", "_")],
            )
            now = timezone.now()
            KolPost.objects.create(
                kol=kol,
                post_id=9_100 + n,
                text=f"{marker} post",
                campaigns=[marker.replace("-", "_")],
                created_at=now,
                tracked_until=now,
            )
    connection.set_schema_to_public()
    return kol.pk


def _seed_raids(tenant, *, marker: str, chat: int, count: int) -> dict[str, int]:
    """``count`` raids, giveaways and contests in the group, each carrying the marker
    (title, post text); returns the last ones' ids (B gets more than A, so B's last ids
    name nothing of A)."""
    with schema_context(tenant.schema_name):
        now = timezone.now()
        for n in range(count):
            raid = Raid.objects.create(
                chat_id=chat,
                title=marker,
                post_id=9_200 + n,
                post_url=f"https://x.com/project/status/{9_200 + n}",
                post_author_id=9_000,
                post_author_username="project",
                post_text=f"{marker} post",
                status=Raid.Status.ACTIVE,
                starts_at=now,
                ends_at=now + timedelta(hours=1),
                currency="XTR",
                pool_amount=1,
                formula="points",
            )
            giveaway = Giveaway.objects.create(
                chat_id=chat,
                title=marker,
                currency="XTR",
                pool_amount=1,
                winners=1,
                commitment="0" * 64,
                secret="",
                draw_at=now + timedelta(hours=1),
            )
            contest = Contest.objects.create(
                chat_id=chat,
                title=marker,
                currency="XTR",
                prizes=[1],
                starts_at=now,
                ends_at=now + timedelta(hours=1),
            )
        template = RaidTemplate.objects.create(chat_id=chat, name=marker, spec={"title": marker})
    connection.set_schema_to_public()
    return {
        "raid_id": raid.pk,
        "giveaway_id": giveaway.pk,
        "contest_id": contest.pk,
        "template_id": template.pk,
    }


def _deposit(tenant, *, owner_kind: str, owner_id: int, marker: str) -> None:
    account = account_get_or_create(
        tenant=tenant, owner_kind=owner_kind, owner_id=owner_id, currency="XTR", kind="available"
    )
    external = account_get_or_create(
        tenant=tenant, owner_kind="tenant", owner_id=tenant.pk, currency="XTR", kind="external"
    )
    transfer_post(
        tenant=tenant,
        debit=external,
        credit=account,
        amount=7,
        kind="deposit",
        idempotency_key=f"isolation-{owner_kind}-{owner_id}",
        metadata={"memo": marker},
    )


@pytest.fixture
def tenants(make_tenant, user_with_role) -> dict[str, Any]:
    a, b = make_tenant(), make_tenant()
    a_bulk = _seed(
        a, marker=A_MARKER, owner=A_OWNER, admin=None, chat=A_CHAT, user_with_role=user_with_role
    )
    b_bulk = _seed(
        b, marker=B_MARKER, owner=B_OWNER, admin=B_ADMIN, chat=B_CHAT, user_with_role=user_with_role
    )
    a_kol = _seed_kols(a, marker=A_MARKER, count=1)
    b_kol = _seed_kols(b, marker=B_MARKER, count=2)
    a_raid = _seed_raids(a, marker=A_MARKER, chat=A_CHAT, count=1)
    b_raid = _seed_raids(b, marker=B_MARKER, chat=B_CHAT, count=2)
    notification_settings_update(tenant=b, allow_paid_broadcast=True, actor=SYSTEM)
    user_with_role(a, "staff", user_id=A_STAFF, username="staff_user")
    connection.set_schema_to_public()
    return {
        "a": a,
        "b": b,
        "a_bulk": a_bulk,
        "b_bulk": b_bulk,
        "a_kol": a_kol,
        "b_kol": b_kol,
        "a_raid": a_raid["raid_id"],
        "b_raid": b_raid["raid_id"],
        "a_raids": a_raid,
        "b_raids": b_raid,
    }


def _host(tenant) -> str:
    return tenant.domains.first().domain


def _call(client: APIClient, op: Operation, kwargs: dict[str, Any], **extra: Any):
    url = op.url({**URL_KWARGS, **kwargs})
    if op.method == "GET":
        return client.get(url, **extra)
    return client.generic(op.method, url, "{}", content_type="application/json", **extra)


def _fingerprint(tenant) -> dict[str, Any]:
    """Everything of ``tenant``: each table of its schema, and its rows in public tables."""
    state: dict[str, Any] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
            [tenant.schema_name],
        )
        for (table,) in sorted(cursor.fetchall()):
            cursor.execute(
                f"SELECT coalesce(string_agg(t::text, %s ORDER BY t::text), %s) "
                f'FROM "{tenant.schema_name}"."{table}" t',
                ["\n", ""],
            )
            state[table] = hashlib.sha256(cursor.fetchone()[0].encode()).hexdigest()
    state["history"] = list(Entry.objects.filter(tenant_id=tenant.pk).values_list("id", "hash"))
    state["memberships"] = list(Membership.objects.filter(tenant=tenant).values())
    state["chats"] = list(ChatBinding.objects.filter(tenant=tenant).values())
    state["bots"] = list(Bot.objects.filter(tenant=tenant).values())
    state["domains"] = list(Domain.objects.filter(tenant=tenant).values())
    state["broadcasts"] = list(Broadcast.objects.filter(tenant=tenant).order_by("id").values())
    state["outbox"] = list(OutboxMessage.objects.filter(tenant=tenant).order_by("id").values())
    state["notification_settings"] = list(
        NotificationSettings.objects.filter(tenant=tenant).values()
    )
    state["wallet_accounts"] = list(Account.objects.filter(tenant=tenant).order_by("id").values())
    state["wallet_transfers"] = list(Transfer.objects.filter(tenant=tenant).order_by("id").values())
    state["wallet_entries"] = list(
        LedgerEntry.objects.filter(account__tenant=tenant).order_by("id").values()
    )
    return state


def _body(response) -> bytes:
    """The content of an answer, streamed (a CSV export) or not."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def _leaks_b(content: bytes) -> bool:
    return B_MARKER.encode() in content or B_NAMES.encode() in content


def _operations() -> list[Operation]:
    ops = api_operations()
    assert ops, "no API operation found"
    return ops


def test_initdata_of_tenant_a_is_refused_on_every_endpoint_of_tenant_b(tenants):
    a, b = tenants["a"], tenants["b"]
    before = _fingerprint(b)
    for user_id in (A_OWNER, A_STAFF):
        client = TenantClient(a, user_id=user_id)
        for op in _operations():
            response = _call(client, op, {}, HTTP_HOST=_host(b))
            assert response.status_code == 401, (user_id, op, response.content)
            assert not _leaks_b(response.content)
    assert _fingerprint(b) == before


def test_initdata_from_tenant_a_bot_is_refused_on_b_even_for_b_owner(tenants):
    """B's owner opening A's Mini App gets initData signed by A's bot: it is no key to B."""
    a, b = tenants["a"], tenants["b"]
    header = "tma " + init_data_for(a, user_id=B_OWNER)
    for op in _operations():
        response = _call(APIClient(), op, {}, HTTP_HOST=_host(b), HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, (op, response.content)
        assert response.json()["code"] == "bad_hash"
    # The same user with B's own bot is B's owner.
    me = TenantClient(b, user_id=B_OWNER).get("/api/v1/me")
    assert (me.status_code, me.json()["role"]) == (200, "owner")


def test_ed25519_initdata_for_a_bot_is_refused_on_b(
    make_tenant, user_with_role, settings, monkeypatch
):
    """Two tenants verified only by Telegram's signature: a signature for A's bot id does not
    open B, even though both are signed by the same (Telegram) key."""
    key = Ed25519PrivateKey.generate()
    public_hex = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    monkeypatch.setitem(initdata.TELEGRAM_PUBLIC_KEYS, "isolation", public_hex)
    settings.TELEGRAM_ENVIRONMENT = "isolation"
    a, b = make_tenant(with_bot=False), make_tenant(with_bot=False)
    for tenant, bot_id in ((a, 8900000001), (b, 8900000002)):
        Bot.objects.create(tenant=tenant, telegram_id=bot_id, token_encrypted="")
        tenant_bots_forget(tenant_id=tenant.pk)
    user_with_role(b, "owner", user_id=B_OWNER)
    fields = {
        "auth_date": str(int(time.time())),
        "query_id": "AAE-iso",
        "user": f'{{"id":{B_OWNER},"first_name":"B"}}',
    }
    for_a = sign_ed25519(fields, bot_id=8900000001, private_key=key)
    client = APIClient()
    ok = client.get("/api/v1/me", HTTP_HOST=_host(a), HTTP_AUTHORIZATION="tma " + for_a)
    assert ok.status_code == 200
    for op in _operations():
        response = _call(client, op, {}, HTTP_HOST=_host(b), HTTP_AUTHORIZATION="tma " + for_a)
        assert response.status_code == 401, (op, response.content)
        assert response.json()["code"] == "bad_signature"


@pytest.mark.parametrize("user_id", [A_OWNER, A_STAFF], ids=["owner", "staff"])
def test_b_objects_addressed_from_a_are_not_found_and_not_changed(tenants, user_id):
    """B's objects look exactly like objects that never existed: same status, same code."""
    a, b = tenants["a"], tenants["b"]
    b_ids = {
        "chat_id": B_CHAT,
        "telegram_id": B_ADMIN,
        "bulk_id": tenants["b_bulk"],
        "kol_id": tenants["b_kol"],
        "bot_id": custom_bot_id(B_CHAT),
        **tenants["b_raids"],
    }
    nowhere = {
        "chat_id": -1009999999999,
        "telegram_id": 999999999,
        "bulk_id": 999999999,
        "kol_id": 999999999,
        "raid_id": 999999999,
        "giveaway_id": 999999999,
        "contest_id": 999999999,
        "template_id": 999999999,
        "bot_id": 999999999,
    }
    client = TenantClient(a, user_id=user_id)
    before = _fingerprint(b)
    addressed = 0
    for op in _operations():
        if not set(op.kwarg_names) & set(b_ids):
            continue
        addressed += 1
        response = _call(client, op, b_ids)
        assert 400 <= response.status_code < 500, (op, response.status_code, response.content)
        if op.method == "GET":
            assert response.status_code == 404, (op, response.content)
        assert not _leaks_b(response.content), op
        missing = _call(client, op, nowhere)
        assert (response.status_code, response.json().get("code")) == (
            missing.status_code,
            missing.json().get("code"),
        ), op
        # Control: the same endpoint addressed with A's own object does answer.
        if op.method == "GET" and "chat_id" in op.kwarg_names:
            own = _call(client, op, {"chat_id": A_CHAT, **tenants["a_raids"]})
            assert own.status_code == 200 and A_MARKER.encode() in _body(own), op
        if op.method == "GET" and "bulk_id" in op.kwarg_names:
            own = _call(client, op, {"bulk_id": tenants["a_bulk"]})
            assert own.status_code == 200 and A_MARKER.encode() in own.content, op
        if op.method == "GET" and "kol_id" in op.kwarg_names:
            own = _call(client, op, {"kol_id": tenants["a_kol"]})
            assert own.status_code == 200 and A_MARKER.encode() in own.content, op
        if op.method == "GET" and op.name == "bot-detail":
            own = _call(client, op, {"bot_id": custom_bot_id(A_CHAT)})
            assert own.status_code == 200 and A_MARKER.encode() in own.content, op
        if op.method == "GET" and op.name == "raid-detail":
            own = _call(client, op, {"raid_id": tenants["a_raid"]})
            assert own.status_code == 200 and A_MARKER.encode() in own.content, op
    assert _fingerprint(b) == before
    if addressed == 0:
        pytest.skip("no API endpoint takes a chat_id or telegram_id yet")


@pytest.mark.parametrize("user_id", [A_OWNER, A_STAFF], ids=["owner", "staff"])
def test_no_list_endpoint_of_a_shows_anything_of_b(tenants, user_id):
    a, b = tenants["a"], tenants["b"]
    client = TenantClient(a, user_id=user_id)
    before = _fingerprint(b)
    lists = [op for op in _operations() if op.method == "GET" and not op.kwarg_names]
    assert lists
    shows_a = set()
    for op in lists:
        response = _call(client, op, {})
        body = _body(response)
        assert response.status_code == 200, (op, body)
        assert not _leaks_b(body), op
        assert str(B_CHAT).encode() not in body, op
        # The marker as text, or as a campaign tag (underscores).
        if A_MARKER.encode() in body or A_MARKER.replace("-", "_").encode() in body:
            shows_a.add(op.name)
    # Control: the lists do show A's own data (audit always; groups once they exist).
    assert "audit" in shows_a
    if "group-list" in {op.name for op in lists}:
        assert "group-list" in shows_a
    if "broadcast-list" in {op.name for op in lists}:
        assert "broadcast-list" in shows_a
    if "x-kol-list" in {op.name for op in lists}:
        assert {"x-kol-list", "x-kol-report", "x-kol-report-csv"} <= shows_a
    if "bot-list" in {op.name for op in lists}:
        assert "bot-list" in shows_a
    # B switched paid broadcasts on; A's settings are still A's own.
    settings = client.get("/api/v1/notifications/settings")
    assert settings.json()["allow_paid_broadcast"] is False, settings.content
    # Writes without parameters (creating things in A) leave B alone as well.
    for op in _operations():
        if op.method != "GET" and not op.kwarg_names:
            assert not _leaks_b(_call(client, op, {}).content), op
    assert _fingerprint(b) == before


def test_a_audit_shows_a_entries_and_never_b_entries(tenants):
    client = TenantClient(tenants["a"], user_id=A_OWNER)
    everything = client.get("/api/v1/audit?page_size=200")
    assert everything.status_code == 200
    assert A_MARKER in everything.content.decode()
    assert B_MARKER not in everything.content.decode()
    for query in (
        f"target_id={B_MARKER}",
        f"actor_id={B_OWNER}",
        "action=isolation.marker",
        f"action_prefix=isolation&target_type=marker&target_id={B_MARKER}",
    ):
        response = client.get(f"/api/v1/audit?{query}")
        assert response.status_code == 200, query
        assert B_MARKER not in response.content.decode(), query
    only_a = client.get("/api/v1/audit?action=isolation.marker").json()["results"]
    assert [r["target_id"] for r in only_a] == [A_MARKER]


def test_tenant_b_still_sees_its_own_data(tenants):
    """The seeding is real: B's owner does see B's markers (so the absence above means
    something)."""
    client = TenantClient(tenants["b"], user_id=B_OWNER)
    response = client.get("/api/v1/audit?action=isolation.marker")
    assert response.status_code == 200
    assert B_MARKER in response.content.decode()
    assert A_MARKER not in response.content.decode()


# ---- suspended and deleted tenants: every path of their domains ------------------------
EVERY_PATH_ALSO = ("/api/schema/", "/api/docs/", "/admin/", "/admin/login/", "/nowhere")


def _every_request(client: APIClient, host: str):
    """(what, response) for every API operation and the other paths a domain serves."""
    for op in _operations():
        yield op, _call(client, op, {}, HTTP_HOST=host)
    for path in EVERY_PATH_ALSO:
        yield path, client.get(path, HTTP_HOST=host)
        yield path, client.post(path, {}, HTTP_HOST=host)


def test_a_suspended_tenant_answers_403_on_every_path_and_changes_nothing(
    make_tenant, user_with_role
):
    tenant = make_tenant()
    user_with_role(tenant, "owner", user_id=B_OWNER)
    owner = TenantClient(tenant, user_id=B_OWNER)
    assert owner.get("/api/v1/me").status_code == 200
    tenant_suspend(tenant=tenant, reason="unpaid")
    connection.set_schema_to_public()
    before = _fingerprint(tenant)
    for client in (owner, APIClient()):
        for what, response in _every_request(client, _host(tenant)):
            assert response.status_code == 403, (what, response.status_code)
            assert response.json() == {
                "detail": "this tenant is suspended",
                "code": "tenant_suspended",
            }, what
    assert _fingerprint(tenant) == before
    tenant_resume(tenant=tenant)
    assert owner.get("/api/v1/me").status_code == 200


def test_a_deleted_tenant_answers_404_on_every_path(make_tenant, user_with_role):
    tenant = make_tenant()
    host = _host(tenant)
    user_with_role(tenant, "owner", user_id=B_OWNER)
    owner = TenantClient(tenant, user_id=B_OWNER)
    assert owner.get("/api/v1/me").status_code == 200  # the host is cached now
    tenant_delete(tenant=tenant, confirm=tenant.slug)
    # Also when a domain row still names the deleted tenant (restored by hand, or another
    # process's lookup): a deleted tenant has no schema to serve.
    Domain.objects.create(tenant=tenant, domain="leftover-" + host, is_primary=True)
    for check_host in (host, "leftover-" + host):
        for client in (owner, APIClient()):
            for what, response in _every_request(client, check_host):
                assert response.status_code == 404, (check_host, what, response.status_code)
                assert response.json()["code"] == "tenant_not_found", (check_host, what)
