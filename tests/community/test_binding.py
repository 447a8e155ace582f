from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.selectors import user_capabilities, user_get, user_role
from accounts.services import membership_demote, membership_set_capabilities
from community.models import Group, GroupAdmin, LinkCode
from community.services import (
    GROUP_ANONYMOUS_BOT_ID,
    group_bind_with_code,
    group_link_code_create,
    group_settings_update,
    group_unbind_on_bot_removed,
)
from config.errors import ServiceError
from history.models import Entry
from history.services import SYSTEM
from tenancy.models import ChatBinding
from tests.community.helpers import bind_by_adding, chat_not_a_group
from tests.helpers import bot_id_of


def _actions(tenant) -> list[str]:
    return list(Entry.objects.filter(tenant=tenant).order_by("id").values_list("action", flat=True))


def _groups(tenant) -> list[Group]:
    with tenant_context(tenant):
        return list(Group.objects.all())


def _admin_ids(tenant, chat_id) -> set[int]:
    with tenant_context(tenant):
        return set(
            GroupAdmin.objects.filter(group__chat_id=chat_id).values_list("telegram_id", flat=True)
        )


def _bind_refused(tenant, chat_id, added_by) -> str:
    """Adding the bot is refused and binds nothing; returns the refusal's code."""
    with pytest.raises(ServiceError) as err:
        bind_by_adding(tenant, chat_id, added_by)
    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()
    return err.value.code


def test_bot_added_by_owner_binds_group_and_syncs_admins(
    community, tg_user, group_chat, user_with_role
):
    tenant = community()
    owner, mod = tg_user("owner"), tg_user("mod")
    user_with_role(tenant, "owner", user_id=owner["id"], username="owner")
    chat_id = group_chat(tenant, creator=owner, admins=[mod], title="Fans")

    result = bind_by_adding(tenant, chat_id, owner)

    assert result.newly_bound and result.admins is not None
    assert sorted(result.admins.added) == sorted([owner["id"], mod["id"]])
    binding = ChatBinding.objects.get(chat_id=chat_id)
    assert binding.tenant_id == tenant.pk and binding.bot.telegram_id == bot_id_of(tenant)
    [group] = _groups(tenant)
    assert (group.chat_id, group.title, group.is_active, group.bot_id) == (
        chat_id,
        "Fans",
        True,
        bot_id_of(tenant),
    )
    assert group.admins_synced_at is not None
    # The bot itself is an administrator on Telegram but never becomes a GroupAdmin.
    assert _admin_ids(tenant, chat_id) == {owner["id"], mod["id"]}
    assert user_role(tenant=tenant, user=user_get(telegram_id=owner["id"])) == "owner"
    assert user_role(tenant=tenant, user=user_get(telegram_id=mod["id"])) == "admin"
    actions = _actions(tenant)
    assert {"chat.bound", "group.bound", "group.admin_added", "role.assigned"} <= set(actions)
    bound = Entry.objects.get(tenant=tenant, action="group.bound")
    assert bound.data["via"] == "bot_added" and bound.actor_id == str(owner["id"])


def test_bot_added_by_stranger_is_refused_once_the_community_has_admins(
    community, tg_user, group_chat, user_with_role
):
    tenant = community()
    user_with_role(tenant, "owner", user_id=tg_user("owner")["id"], username="owner")
    stranger = tg_user("stranger")
    chat_id = group_chat(tenant, creator=stranger)

    assert _bind_refused(tenant, chat_id, stranger) == "not_allowed_to_bind"
    assert _groups(tenant) == []
    assert user_get(telegram_id=stranger["id"]) is None


def test_the_owner_named_at_creation_binds_the_first_group_by_adding_the_bot(
    community, tg_user, group_chat
):
    founder = tg_user("founder")
    tenant = community(owner_telegram_id=founder["id"])
    chat_id = group_chat(tenant, creator=founder)

    result = bind_by_adding(tenant, chat_id, founder)

    assert result.newly_bound
    assert user_role(tenant=tenant, user=user_get(telegram_id=founder["id"])) == "owner"


def test_a_community_without_an_owner_is_not_claimed_by_the_first_to_add_its_bot(
    community, tg_user, group_chat
):
    tenant = community()  # created without an owner
    stranger = tg_user("stranger")
    chat_id = group_chat(tenant, creator=stranger)

    assert _bind_refused(tenant, chat_id, stranger) == "not_allowed_to_bind"
    assert user_get(telegram_id=stranger["id"]) is None


def test_the_bootstrap_does_not_reopen_when_the_last_admin_is_gone(
    community, tg_user, group_chat, user_with_role
):
    owner, stranger = tg_user("owner"), tg_user("stranger")
    tenant = community(owner_telegram_id=owner["id"])
    first = group_chat(tenant, creator=owner)
    bind_by_adding(tenant, first, owner)
    # The owner steps down: nobody manages the community any more.
    membership_demote(tenant=tenant, user=user_get(telegram_id=owner["id"]), from_role="owner")
    chat_id = group_chat(tenant, creator=stranger)

    assert _bind_refused(tenant, chat_id, stranger) == "not_allowed_to_bind"


@pytest.mark.parametrize("who", ["moderator", "admin_without_manage_settings"])
def test_adding_the_bot_needs_manage_settings_not_just_a_role(
    community, tg_user, group_chat, user_with_role, who
):
    owner, person = tg_user("owner"), tg_user(who)
    tenant = community(owner_telegram_id=owner["id"])
    user = user_with_role(
        tenant, "moderator" if who == "moderator" else "admin", user_id=person["id"]
    )
    if who != "moderator":
        membership_set_capabilities(
            tenant=tenant, user=user, grant=[], revoke=["manage_settings"], actor=SYSTEM
        )
    # Both still hold ``moderate``; neither manages the community's settings.
    assert "moderate" in user_capabilities(tenant=tenant, user=user_get(telegram_id=person["id"]))
    chat_id = group_chat(tenant, creator=person)

    assert _bind_refused(tenant, chat_id, person) == "not_allowed_to_bind"
    assert _groups(tenant) == []


def test_chat_bound_to_another_tenant_is_refused(community, tg_user, group_chat):
    creator = tg_user("creator")
    first = community(owner_telegram_id=creator["id"])
    second = community(owner_telegram_id=creator["id"])
    chat_id = group_chat(first, creator=creator)
    bind_by_adding(first, chat_id, creator)

    with pytest.raises(ServiceError) as err:
        bind_by_adding(second, chat_id, creator)

    assert err.value.code == "chat_bound_elsewhere"
    assert ChatBinding.objects.get(chat_id=chat_id).tenant_id == first.pk
    assert _groups(second) == []


def test_bot_of_another_tenant_cannot_bind_for_this_one(community, tg_user, group_chat):
    tenant, other = community(), community()
    creator = tg_user("creator")
    chat_id = group_chat(tenant, creator=creator)
    with pytest.raises(ServiceError) as err:
        bind_by_adding(tenant, chat_id, creator, bot_id=bot_id_of(other), title="x")
    assert err.value.code == "unknown_bot"


# ---- Telegram confirms before anything is bound ------------------------------------------
def test_a_chat_the_bot_is_not_in_binds_nothing(community, tg_user, group_chat, tg):
    owner = tg_user("owner")
    tenant = community(owner_telegram_id=owner["id"])
    # The owner administers the group, but the bot was never added (a forged update).
    chat_id = group_chat(tenant, creator=owner, bot_in_chat=False)

    assert _bind_refused(tenant, chat_id, owner) == "bot_not_in_chat"
    assert _groups(tenant) == []
    # Kicked counts as absent too.
    tg.set_member(chat_id, bot_id_of(tenant), "kicked")
    assert _bind_refused(tenant, chat_id, owner) == "bot_not_in_chat"


def test_the_bot_must_be_a_member_or_administrator_itself(community, tg_user, group_chat, tg):
    owner = tg_user("owner")
    tenant = community(owner_telegram_id=owner["id"])
    chat_id = group_chat(tenant, creator=owner)
    # Still in the chat, but restricted: getChat answers, getChatMember says so.
    tg.set_member(chat_id, bot_id_of(tenant), "restricted", is_member=True)

    assert _bind_refused(tenant, chat_id, owner) == "bot_not_in_chat"


def test_an_adder_who_is_a_plain_member_of_the_chat_binds_nothing(community, tg_user, group_chat):
    owner, creator = tg_user("owner"), tg_user("creator")
    tenant = community(owner_telegram_id=owner["id"])
    # The community's owner is only a member of someone else's group: adding the bot
    # there must not take the group away from its creator.
    chat_id = group_chat(tenant, creator=creator, members=[owner])

    assert _bind_refused(tenant, chat_id, owner) == "not_chat_admin"
    assert _groups(tenant) == []
    assert user_get(telegram_id=creator["id"]) is None


@pytest.mark.parametrize("kind", ["channel", "private"])
def test_a_channel_or_a_private_chat_is_not_bound(community, tg_user, tg, kind):
    owner = tg_user("owner")
    tenant = community(owner_telegram_id=owner["id"])
    chat_id = chat_not_a_group(tg, kind, owner, bot_id_of(tenant))

    assert _bind_refused(tenant, chat_id, owner) == "not_a_group"
    assert _groups(tenant) == []


def test_a_refused_bind_is_logged_with_its_reason(community, tg_user, group_chat, caplog):
    owner = tg_user("owner")
    tenant = community(owner_telegram_id=owner["id"])
    chat_id = group_chat(tenant, creator=owner, bot_in_chat=False)

    with pytest.raises(ServiceError):
        bind_by_adding(tenant, chat_id, owner)

    [record] = [r for r in caplog.records if r.getMessage() == "community.group.bind_refused"]
    assert (record.chat_id, record.code, record.by) == (chat_id, "bot_not_in_chat", owner["id"])


def test_bot_removed_unbinds_keeps_settings_and_demotes_its_admins(
    community, tg_user, group_chat, user_with_role
):
    tenant = community()
    owner, mod = tg_user("owner"), tg_user("mod")
    user_with_role(tenant, "owner", user_id=owner["id"], username="owner")
    chat_id = group_chat(tenant, creator=owner, admins=[mod])
    bind_by_adding(tenant, chat_id, owner)
    group_settings_update(tenant=tenant, chat_id=chat_id, actor=SYSTEM, language="de")

    assert group_unbind_on_bot_removed(
        tenant=tenant, bot_id=bot_id_of(tenant), chat_id=chat_id, removed_by_telegram_id=owner["id"]
    )

    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()
    [group] = _groups(tenant)
    assert not group.is_active and group.language == "de"
    assert _admin_ids(tenant, chat_id) == set()
    assert user_role(tenant=tenant, user=user_get(telegram_id=mod["id"])) == "member"
    assert user_role(tenant=tenant, user=user_get(telegram_id=owner["id"])) == "owner"
    assert {"chat.unbound", "group.unbound", "group.admin_removed", "role.revoked"} <= set(
        _actions(tenant)
    )
    # Nothing left to unbind the second time.
    assert not group_unbind_on_bot_removed(tenant=tenant, bot_id=bot_id_of(tenant), chat_id=chat_id)

    # Added again: same row, settings back, admins synced again.
    result = bind_by_adding(tenant, chat_id, owner)
    assert result.newly_bound and result.group.pk == group.pk
    assert result.group.language == "de"
    assert user_role(tenant=tenant, user=user_get(telegram_id=mod["id"])) == "admin"


# ---- binding with a link code -----------------------------------------------------------
@pytest.fixture
def setup_code(community, tg_user, group_chat, user_with_role):
    """A community with an owner, a code the owner created, and a group whose creator is
    ``admin`` and where ``member`` is a plain member."""

    def make():
        tenant = community()
        owner, admin, member = tg_user("owner"), tg_user("groupadmin"), tg_user("member")
        owner_user = user_with_role(tenant, "owner", user_id=owner["id"], username="owner")
        chat_id = group_chat(tenant, creator=admin, members=[member])
        link = group_link_code_create(tenant=tenant, created_by=owner_user)
        return tenant, chat_id, link, admin, member

    return make


def _bind_with(tenant, link_or_code, chat_id, sender, bot_id=None):
    code = link_or_code if isinstance(link_or_code, str) else link_or_code.code
    return group_bind_with_code(
        tenant=tenant,
        code=code,
        chat_id=chat_id,
        title="Fans",
        from_telegram_id=sender["id"],
        bot_id=bot_id or bot_id_of(tenant),
    )


def _link(tenant, pk) -> LinkCode:
    with tenant_context(tenant):
        return LinkCode.objects.get(pk=pk)


def test_link_code_binds_group_for_a_chat_admin(setup_code):
    tenant, chat_id, link, admin, _ = setup_code()
    assert len(link.code) == 8 and link.expires_at > timezone.now() + timedelta(minutes=14)

    # Typed by hand: lower case and a space are accepted.
    result = _bind_with(tenant, f" {link.code[:4].lower()} {link.code[4:]}", chat_id, admin)

    assert result.newly_bound and result.admins.added == [admin["id"]]
    assert ChatBinding.objects.get(chat_id=chat_id).tenant_id == tenant.pk
    used = _link(tenant, link.pk)
    assert used.used_at is not None and used.used_in_chat == chat_id
    assert used.used_by == admin["id"]
    assert user_role(tenant=tenant, user=user_get(telegram_id=admin["id"])) == "admin"
    bound = Entry.objects.get(tenant=tenant, action="group.bound")
    assert bound.data["via"] == "link_code" and bound.data["link_code_id"] == link.pk
    created = Entry.objects.get(tenant=tenant, action="group.link_code_created")
    assert link.code not in str(created.data)  # the secret is not in the audit log


def test_reused_code_is_refused(setup_code, group_chat, tg_user):
    tenant, chat_id, link, admin, _ = setup_code()
    _bind_with(tenant, link, chat_id, admin)
    other_admin = tg_user("other")
    other_chat = group_chat(tenant, creator=other_admin)

    with pytest.raises(ServiceError) as err:
        _bind_with(tenant, link, other_chat, other_admin)

    assert err.value.code == "link_code_used"
    assert not ChatBinding.objects.filter(chat_id=other_chat).exists()


def test_expired_code_is_refused_and_left_unused(setup_code):
    tenant, chat_id, link, admin, _ = setup_code()
    with tenant_context(tenant):
        LinkCode.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(ServiceError) as err:
        _bind_with(tenant, link, chat_id, admin)

    assert err.value.code == "link_code_expired"
    assert _link(tenant, link.pk).used_at is None
    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()


def test_unknown_code_is_refused(setup_code):
    tenant, chat_id, _, admin, _ = setup_code()
    with pytest.raises(ServiceError) as err:
        _bind_with(tenant, "ZZZZ2222", chat_id, admin)
    assert err.value.code == "link_code_unknown"


def test_code_of_another_community_is_unknown_here(setup_code, community):
    tenant, chat_id, link, admin, _ = setup_code()
    other = community()
    with pytest.raises(ServiceError) as err:
        _bind_with(other, link, chat_id, admin)
    assert err.value.code == "link_code_unknown"
    assert _link(tenant, link.pk).used_at is None


@pytest.mark.parametrize("who", ["member", "stranger"])
def test_sender_who_is_not_a_chat_admin_is_refused(setup_code, tg_user, who):
    tenant, chat_id, link, _, member = setup_code()
    sender = member if who == "member" else tg_user("stranger")

    with pytest.raises(ServiceError) as err:
        _bind_with(tenant, link, chat_id, sender)

    assert err.value.code == "not_chat_admin"
    assert _link(tenant, link.pk).used_at is None
    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()
    assert _groups(tenant) == []


def test_anonymous_admin_is_told_to_show_themselves(setup_code):
    tenant, chat_id, link, _, _ = setup_code()
    with pytest.raises(ServiceError) as err:
        _bind_with(tenant, link, chat_id, {"id": GROUP_ANONYMOUS_BOT_ID})
    assert err.value.code == "anonymous_admin"


def test_code_for_chat_bound_to_another_tenant_is_refused_and_kept(
    setup_code, community, tg_user, group_chat
):
    tenant, chat_id, link, admin, _ = setup_code()
    other = community()
    ChatBinding.objects.create(chat_id=chat_id, tenant=other, title="taken")

    with pytest.raises(ServiceError) as err:
        _bind_with(tenant, link, chat_id, admin)

    assert err.value.code == "chat_bound_elsewhere"
    assert _link(tenant, link.pk).used_at is None
    assert _groups(tenant) == []


@pytest.mark.parametrize(
    ("break_telegram", "code"),
    [
        ("kick_bot", "bot_not_in_chat"),
        ("unknown_chat", "telegram_chat_not_found"),
        ("unreachable", "telegram_unavailable"),
    ],
)
def test_telegram_failures_become_clear_errors(setup_code, tg, settings, break_telegram, code):
    tenant, chat_id, link, admin, _ = setup_code()
    if break_telegram == "kick_bot":
        tg.set_member(chat_id, bot_id_of(tenant), "kicked")
    elif break_telegram == "unknown_chat":
        chat_id = -1_000_000_000_001
    else:
        settings.TELEGRAM_API_BASE = "http://127.0.0.1:9"  # discard port: nothing listens

    with pytest.raises(ServiceError) as err:
        _bind_with(tenant, link, chat_id, admin)

    assert err.value.code == code
    assert _link(tenant, link.pk).used_at is None


def test_code_sent_in_a_channel_binds_nothing(setup_code, tg):
    tenant, _, link, admin, _ = setup_code()
    channel = tg.add_group(title="News", type="channel")["id"]
    tg.set_member(channel, admin["id"], "creator")
    tg.set_member(channel, bot_id_of(tenant), "administrator")

    with pytest.raises(ServiceError) as err:
        _bind_with(tenant, link, channel, admin)

    assert err.value.code == "not_a_group"
    assert _link(tenant, link.pk).used_at is None
    assert not ChatBinding.objects.filter(chat_id=channel).exists()


def test_code_in_a_chat_the_bot_has_left_binds_nothing(setup_code, tg):
    tenant, chat_id, link, admin, _ = setup_code()
    tg.set_member(chat_id, bot_id_of(tenant), "left")

    with pytest.raises(ServiceError) as err:
        _bind_with(tenant, link, chat_id, admin)

    assert err.value.code == "bot_not_in_chat"
    assert _link(tenant, link.pk).used_at is None


@pytest.mark.parametrize("change", ["manage_settings_revoked", "demoted"])
def test_code_of_a_creator_who_no_longer_manages_settings_binds_nothing(
    community, tg_user, group_chat, user_with_role, change
):
    owner, creator, admin = tg_user("owner"), tg_user("creator"), tg_user("groupadmin")
    tenant = community(owner_telegram_id=owner["id"])
    creator_user = user_with_role(tenant, "admin", user_id=creator["id"])
    link = group_link_code_create(tenant=tenant, created_by=creator_user)
    chat_id = group_chat(tenant, creator=admin)
    if change == "demoted":
        membership_demote(tenant=tenant, user=creator_user, from_role="admin")
    else:
        membership_set_capabilities(
            tenant=tenant, user=creator_user, grant=[], revoke=["manage_settings"], actor=SYSTEM
        )

    with pytest.raises(ServiceError) as err:
        _bind_with(tenant, link, chat_id, admin)

    assert err.value.code == "link_code_creator_not_allowed"
    assert _link(tenant, link.pk).used_at is None
    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()
