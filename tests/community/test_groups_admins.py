import pytest
from django_tenants.utils import tenant_context

from accounts.selectors import user_get, user_role
from community.models import GroupAdmin
from community.services import admins_refresh
from config.errors import ServiceError
from history.models import Entry
from tests.community.helpers import bind_by_adding
from tests.helpers import bot_id_of


@pytest.fixture
def bound_group(community, tg_user, group_chat, user_with_role):
    """A community with an owner who created a group (with ``admins``) and bound it."""

    def make(*, admins=(), tenant=None, owner=None):
        tenant = tenant or community()
        owner = owner or tg_user("owner")
        user_with_role(tenant, "owner", user_id=owner["id"], username="owner")
        chat_id = group_chat(tenant, creator=owner, admins=list(admins))
        bind_by_adding(tenant, chat_id, owner)
        return tenant, chat_id, owner

    return make


def _role(tenant, user) -> str:
    return user_role(tenant=tenant, user=user_get(telegram_id=user["id"]))


def _rows(tenant, chat_id) -> dict[int, GroupAdmin]:
    with tenant_context(tenant):
        return {r.telegram_id: r for r in GroupAdmin.objects.filter(group__chat_id=chat_id)}


def test_refresh_adds_new_and_removes_gone_admins(bound_group, tg, tg_user):
    alice, bob, carol = tg_user("alice"), tg_user("bob"), tg_user("carol")
    tenant, chat_id, owner = bound_group(admins=[alice, bob])
    # On Telegram: bob loses his rights, carol is promoted with a title.
    tg.set_member(chat_id, bob["id"], "member")
    tg.set_member(
        chat_id, carol["id"], "administrator", custom_title="Raid lead", can_restrict_members=False
    )
    before = Entry.objects.filter(tenant=tenant).count()

    summary = admins_refresh(tenant=tenant, chat_id=chat_id)

    assert summary.added == [carol["id"]]
    assert summary.removed == [bob["id"]]
    assert summary.unchanged == sorted([owner["id"], alice["id"]])
    rows = _rows(tenant, chat_id)
    assert set(rows) == {owner["id"], alice["id"], carol["id"]}
    assert rows[owner["id"]].status == "creator"
    assert rows[carol["id"]].custom_title == "Raid lead"
    assert rows[carol["id"]].can_restrict_members is False
    assert (
        _role(tenant, owner),
        _role(tenant, alice),
        _role(tenant, bob),
        _role(tenant, carol),
    ) == ("owner", "admin", "member", "admin")
    new = Entry.objects.filter(tenant=tenant).order_by("id")[before:]
    audited = {(e.action, e.target_id) for e in new}
    assert ("group.admin_added", str(carol["id"])) in audited
    assert ("group.admin_removed", str(bob["id"])) in audited
    assert ("role.assigned", str(carol["id"])) in audited
    assert ("role.revoked", str(bob["id"])) in audited


def test_refresh_is_idempotent(bound_group, tg_user):
    tenant, chat_id, _ = bound_group(admins=[tg_user("alice")])
    before = Entry.objects.filter(tenant=tenant).count()

    first = admins_refresh(tenant=tenant, chat_id=chat_id)
    second = admins_refresh(tenant=tenant, chat_id=chat_id)

    assert first.added == second.added == [] and first.removed == second.removed == []
    assert first.unchanged == second.unchanged and len(second.unchanged) == 2
    assert Entry.objects.filter(tenant=tenant).count() == before


def test_owner_who_is_telegram_admin_stays_owner_and_is_not_demoted(bound_group, tg):
    tenant, chat_id, owner = bound_group()
    assert _role(tenant, owner) == "owner"
    assert owner["id"] in _rows(tenant, chat_id)
    # The owner hands the group over and leaves the admin list.
    tg.set_member(chat_id, owner["id"], "member")

    summary = admins_refresh(tenant=tenant, chat_id=chat_id)

    assert summary.removed == [owner["id"]]
    assert _role(tenant, owner) == "owner"


def test_admin_of_two_groups_keeps_role_until_gone_from_both(bound_group, tg, tg_user):
    alice = tg_user("alice")
    tenant, first_chat, owner = bound_group(admins=[alice])
    _, second_chat, _ = bound_group(admins=[alice], tenant=tenant, owner=owner)
    for chat_id in (first_chat, second_chat):
        tg.set_member(chat_id, alice["id"], "member")

    admins_refresh(tenant=tenant, chat_id=first_chat)
    assert _role(tenant, alice) == "admin"  # still an admin of the second group

    admins_refresh(tenant=tenant, chat_id=second_chat)
    assert _role(tenant, alice) == "member"


def test_refresh_of_unknown_chat_is_404(community):
    with pytest.raises(ServiceError) as err:
        admins_refresh(tenant=community(), chat_id=-100123)
    assert (err.value.code, err.value.status) == ("group_not_found", 404)


def test_refresh_api_syncs_and_reports(bound_group, client_for, tg, tg_user):
    alice = tg_user("alice")
    tenant, chat_id, owner = bound_group()
    tg.set_member(chat_id, alice["id"], "administrator")
    client = client_for(tenant, user_id=owner["id"], username="owner")

    response = client.post(f"/api/v1/groups/{chat_id}/admins/refresh")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["added"] == [alice["id"]] and body["removed"] == []
    assert body["unchanged"] == [owner["id"]] and body["synced_at"]
    entry = Entry.objects.get(tenant=tenant, action="group.admin_added", target_id=str(alice["id"]))
    assert entry.actor_id == str(owner["id"])  # the admin who asked for the refresh


def test_refresh_api_answers_telegram_failure_as_error(bound_group, client_for, tg):
    tenant, chat_id, owner = bound_group()
    tg.set_member(chat_id, bot_id_of(tenant), "kicked")
    client = client_for(tenant, user_id=owner["id"], username="owner")

    response = client.post(f"/api/v1/groups/{chat_id}/admins/refresh")

    assert response.status_code == 409
    assert response.json()["code"] == "bot_not_in_chat"


def test_refresh_api_unknown_chat_404_and_refused_user_403(community, client_for, user_with_role):
    tenant = community()
    user_with_role(tenant, "owner", user_id=77, username="boss")
    assert (
        client_for(tenant, user_id=77).post("/api/v1/groups/-100555/admins/refresh").status_code
        == 404
    )
    assert (
        client_for(tenant, user_id=78).post("/api/v1/groups/-100555/admins/refresh").status_code
        == 403
    )
