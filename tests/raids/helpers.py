"""What the raids tests share: the platform's app on the sandbox X, the money a test
community's group starts with, and ``join`` (a participant row as joining leaves it)."""

from __future__ import annotations

from datetime import UTC, datetime

from django_tenants.utils import tenant_context

from accounts.models import TelegramUser
from raids.models import Participant, Raid

RAID_APP_TOKEN = "raids-platform-app-token"
CURRENCY = "USDT"
GROUP_FUNDS = 1_000_000_000  # 1,000 USDT in minor units


def join(scene, raid: Raid, user: TelegramUser, account: dict, role: str = "member"):
    """A participant row as joining leaves it (the service that joins checks eligibility)."""
    with tenant_context(scene.tenant):
        participant = Participant.objects.create(
            raid=raid,
            user_id=user.telegram_id,
            x_user_id=int(account["id"]),
            x_username=account["username"],
            role=role,
            joined_at=datetime.now(UTC),
        )
        Raid.objects.filter(pk=raid.pk).update(participants_count=raid.participants.count())
    return participant


def x_link(scene, user: TelegramUser, account: dict, *, age_days: int, followers: int) -> None:
    """Link ``account`` (a sandbox X account) to ``user`` as X confirmed it by OAuth."""
    from datetime import timedelta

    from xclient.links import XAccount, link_create

    link_create(
        user=user,
        tenant=scene.tenant,
        account=XAccount(
            x_user_id=int(account["id"]),
            username=account["username"],
            created_at=datetime.now(UTC) - timedelta(days=age_days),
            followers=followers,
        ),
        via="oauth",
        confirmed=True,
    )


def balance(scene, owner_kind: str, owner_id: int) -> int:
    """The available balance in CURRENCY of a group's or a user's account."""
    from wallet.services.ledger import account_get_or_create

    return account_get_or_create(
        tenant=scene.tenant,
        owner_kind=owner_kind,
        owner_id=owner_id,
        currency=CURRENCY,
        kind="available",
    ).balance


# ---- rewards ----
def raid_ended(scene, raid: Raid) -> Raid:
    """The raid past its end, being validated (what settlement expects)."""
    from datetime import timedelta

    with tenant_context(scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(
            status=Raid.Status.VALIDATING, ends_at=datetime.now(UTC) - timedelta(minutes=1)
        )
        raid.refresh_from_db()
    return raid


def x_posts(x, query: str) -> list:
    """What a search of the sandbox X returns, as the X feed reads it (``XPost``s)."""
    from xclient.transport import x_client
    from xfeed.posts import READ_FIELDS, posts_from_response

    client = x_client(base_url=x.base_url, bearer_token=RAID_APP_TOKEN)
    return posts_from_response(client.search_recent_tweets(query, max_results=100, **READ_FIELDS))
