"""Raids fixtures: ``raid_x``, the sandbox X (emptied) answering the platform's app with
the project's account and its post to raid; ``raid_scene``, a community whose bot runs a
bound supergroup on the sandbox Telegram, with funds in the group's wallet; ``linked``,
a Telegram user (on the sandbox, and a group member) with an X account linked the way
X confirmed it; ``make_raid``, a raid written straight into the tables with its pool
held in the wallet (the service that creates raids is tested on its own)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from accounts.models import TelegramUser
from history.services import SYSTEM
from raids.models import Raid, Task
from sandbox.x import SandboxX
from tenancy.models import Bot
from tests.helpers import group_on_sandbox
from tests.raids.helpers import CURRENCY, GROUP_FUNDS, RAID_APP_TOKEN, x_link
from wallet.services.holds import hold_create
from wallet.services.ledger import account_get_or_create, transfer_post
from xclient.reader import PLATFORM_APP

_n = itertools.count(1)


@pytest.fixture
def raid_x(x_server, settings) -> SandboxX:
    """The sandbox X, emptied, with the platform's app token, the project's account
    ``project`` and its post ``raid_x.target`` (a dict: the Post as X returns it)."""
    x_server.reset()
    x_server.add_app(RAID_APP_TOKEN, app_id=PLATFORM_APP)
    x_server.add_account("project", name="The Project")
    x_server.target = x_server.post("project", "Big news today: v2 is live")  # type: ignore[attr-defined]
    settings.X_API_BASE, settings.X_BEARER_TOKEN = x_server.base_url, RAID_APP_TOKEN
    return x_server


@dataclass
class RaidScene:
    tg: Any
    tenant: Any
    bot_id: int
    chat_id: int
    owner: dict
    members: list[dict] = field(default_factory=list)

    def group_account(self, currency: str = CURRENCY):
        return account_get_or_create(
            tenant=self.tenant,
            owner_kind="group",
            owner_id=self.chat_id,
            currency=currency,
            kind="available",
        )


@pytest.fixture
def raid_scene(make_tenant, tg) -> RaidScene:
    n = next(_n)
    owner = tg.add_user(7_300_000 + n, "Olga", username=f"olga{n}")
    tenant = make_tenant(owner_telegram_id=owner["id"])
    chat_id = -1_007_300_000_000 - n
    bot = group_on_sandbox(tg, tenant, owner=owner, chat_id=chat_id, title="Raiders")
    scene = RaidScene(tg=tg, tenant=tenant, bot_id=bot["id"], chat_id=chat_id, owner=owner)
    external = account_get_or_create(
        tenant=tenant, owner_kind="tenant", owner_id=tenant.pk, currency=CURRENCY, kind="external"
    )
    transfer_post(
        tenant=tenant,
        debit=external,
        credit=scene.group_account(),
        amount=GROUP_FUNDS,
        kind="deposit",
        idempotency_key=f"raid-scene-funds-{n}",
    )
    return scene


@pytest.fixture
def linked(tg):
    """``linked(scene, x, name, followers=0, age_days=400, member=True)``: a Telegram
    user (on the sandbox; a member of the scene's group unless ``member`` is False) whose
    X account ``name`` (created on ``x``) is linked to them as X confirmed it. Returns
    (TelegramUser, the X account's dict)."""

    def make(
        scene: RaidScene,
        x: SandboxX,
        name: str,
        *,
        followers: int = 0,
        age_days: int = 400,
        member: bool = True,
    ) -> tuple[TelegramUser, dict]:
        n = next(_n)
        person = tg.add_user(7_400_000 + n, name.title(), username=f"{name}{n}")
        if member:
            tg.set_member(scene.chat_id, person["id"], "member")
            scene.members.append(person)
        account = x.add_account(f"{name[:10]}{n}", name=name.title())
        user, _ = TelegramUser.objects.get_or_create(
            telegram_id=person["id"],
            defaults={"first_name": person["first_name"], "last_seen": datetime.now(UTC)},
        )
        x_link(scene, user, account, age_days=age_days, followers=followers)
        return user, account

    return make


@pytest.fixture
def make_raid(raid_x):
    """``make_raid(scene, tasks=[(kind, points, params)], pool=, formula=, **fields)``: an
    active raid on ``raid_x.target`` ending in an hour, its pool held from the group's
    account. ``join(raid, user, x_account)`` adds a participant as joining would."""

    def make(
        scene: RaidScene,
        *,
        tasks: list[tuple[str, int, dict]] | None = None,
        pool: int = 100_000_000,
        formula: str = "points",
        formula_params: dict | None = None,
        **fields: Any,
    ) -> Raid:
        target = raid_x.target
        now = datetime.now(UTC)
        n = next(_n)
        hold = hold_create(
            tenant=scene.tenant,
            group_account=scene.group_account(),
            amount=pool,
            reference=f"raid-test-{n}",
            idempotency_key=f"raid-test-hold-{n}",
            actor=SYSTEM,
        )
        with tenant_context(scene.tenant):
            raid = Raid.objects.create(
                chat_id=scene.chat_id,
                post_id=int(target["id"]),
                post_url=f"https://x.com/project/status/{target['id']}",
                post_author_id=int(target["author_id"]),
                post_author_username="project",
                post_text=target["text"],
                status=Raid.Status.ACTIVE,
                starts_at=now - timedelta(minutes=5),
                ends_at=now + timedelta(hours=1),
                currency=CURRENCY,
                pool_amount=pool,
                hold_id=hold.pk,
                formula=formula,
                formula_params=formula_params or {},
                **fields,
            )
            for position, (kind, points, params) in enumerate(
                tasks or [("repost", 10, {}), ("like", 5, {})]
            ):
                Task.objects.create(
                    raid=raid, kind=kind, points=points, params=params, position=position
                )
        return raid

    return make


# ---- rewards ----
@pytest.fixture
def scored(linked, raid_x):
    """``scored(scene, raid, name, points, statuses=("verified", ...), excluded=False)``:
    a linked user who joined ``raid``, with ``points`` and the raid's tasks' results in
    ``statuses`` (in task order), as validation leaves them. Returns the Participant."""
    from raids.models import Participant, Result
    from tests.raids.helpers import join

    def make(scene, raid, name, points, statuses=(), *, excluded=False):
        user, account = linked(scene, raid_x, name)
        participant = join(scene, raid, user, account)
        with tenant_context(scene.tenant):
            participant.points = points
            if excluded:
                participant.status = Participant.Status.EXCLUDED
            participant.save(update_fields=["points", "status"])
            tasks = list(raid.tasks.order_by("position"))
            Result.objects.bulk_create(
                Result(participant=participant, task=task, status=status)
                for task, status in zip(tasks, statuses, strict=False)
            )
        return participant

    return make


# ---- giveaways and contests ----
@pytest.fixture
def make_giveaway():
    """``make_giveaway(scene, pool=, winners=, **conditions)``: a giveaway through the
    service (its pool held), drawn an hour from now, open to anyone by default."""
    from raids.services.giveaways import giveaway_create

    def make(scene: RaidScene, *, pool: int = 10_000_000, winners: int = 2, **fields: Any):
        options: dict[str, Any] = {"members_only": False, "min_raid_points": 0, "x_linked": False}
        options.update(fields)
        return giveaway_create(
            tenant=scene.tenant,
            chat_id=scene.chat_id,
            title=options.pop("title", "Launch giveaway"),
            currency=CURRENCY,
            pool_amount=pool,
            winners=winners,
            draw_at=options.pop("draw_at", datetime.now(UTC) + timedelta(hours=1)),
            actor=SYSTEM,
            **options,
        )

    return make


@pytest.fixture
def make_contest():
    """``make_contest(scene, prizes, **fields)``: an EXP contest through the service (its
    prizes held), started an hour ago and ending in an hour by default."""
    from raids.services.contests import contest_create

    def make(scene: RaidScene, prizes: list[int], **fields: Any):
        now = datetime.now(UTC)
        return contest_create(
            tenant=scene.tenant,
            chat_id=scene.chat_id,
            title=fields.pop("title", "Weekly EXP"),
            currency=CURRENCY,
            prizes=prizes,
            starts_at=fields.pop("starts_at", now - timedelta(hours=1)),
            ends_at=fields.pop("ends_at", now + timedelta(hours=1)),
            **fields,
        )

    return make


@pytest.fixture
def raid_points(make_raid):
    """``raid_points(scene, user, points, settled_at=None)``: a settled raid in which
    ``user`` (a TelegramUser linked with ``account``) scored ``points``."""
    from raids.models import Participant

    def make(scene: RaidScene, user: TelegramUser, points: int, *, settled_at=None) -> Raid:
        raid = make_raid(scene, pool=1_000)
        with tenant_context(scene.tenant):
            Raid.objects.filter(pk=raid.pk).update(
                status=Raid.Status.SETTLED, settled_at=settled_at or datetime.now(UTC)
            )
            Participant.objects.create(
                raid=raid,
                user_id=user.telegram_id,
                x_user_id=900_000_000 + raid.pk * 1000 + next(_n),
                x_username="someone",
                joined_at=datetime.now(UTC),
                points=points,
            )
            raid.refresh_from_db()
        return raid

    return make


# ---- creation and participation ----
@pytest.fixture
def named_scene(raid_scene) -> RaidScene:
    """``raid_scene`` whose bot's username is known to the platform (as registering a
    bot records it), so announcements carry the "Join" deep link."""
    Bot.objects.filter(tenant=raid_scene.tenant).update(
        username=f"{raid_scene.tenant.slug.replace('-', '_')}_bot"
    )
    return raid_scene


# ---- rlike ----
@pytest.fixture
def with_token(settings):
    """``with_token(scene, x, user, account)``: the user's link of ``account`` renewed
    through X's consent (the sandbox's OAuth flow), so it holds a user token with
    ``like.read``. Returns the XLink."""
    import requests

    from xclient.links import link_oauth_callback, link_oauth_start

    callback = "https://localhost/x/raids-callback"

    def make(scene: RaidScene, x: SandboxX, user: TelegramUser, account: dict):
        if "raids-oauth" not in x.auth.clients:
            x.add_oauth_client("raids-oauth", [callback], app_id=PLATFORM_APP)
        settings.X_OAUTH_CLIENT_ID, settings.X_OAUTH_CLIENT_SECRET = "raids-oauth", ""
        url = link_oauth_start(
            user=user, tenant=scene.tenant, redirect_uri=callback, confirmed=True
        )
        x.auto_approve(account["username"])
        consent = requests.get(url, allow_redirects=False, timeout=10)
        x.auto_approve(None)
        return link_oauth_callback(callback_url=consent.headers["Location"])

    return make
