"""/xforward, /xunforward and /xforwarding in a group, end to end: the admin writes on
the sandbox Telegram, the bot (python-telegram-bot against the sandbox) looks the handle
up on the sandbox X, configures the group and replies; errors name the field; members,
anonymous admins and admins without manage_settings change nothing."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from accounts.selectors import user_get
from accounts.services import membership_set_capabilities
from community.models import Group
from community.services import admins_refresh
from history.services import SYSTEM
from tests.helpers import application_process
from xfeed.models import Forwarding

PREFIX = "Could not forward"


def forwardings(scene) -> list[tuple[str, bool, bool, bool]]:
    with tenant_context(scene.tenant):
        return [
            (f.account.username, f.include_reposts, f.include_replies, f.include_quotes)
            for f in Forwarding.objects.select_related("account").order_by("id")
        ]


def test_an_admin_forwards_lists_and_unforwards_an_account(scene, x):
    [reply] = scene.say(scene.owner, "/xforward @project replies quotes")
    assert reply == (
        "Forwarding to this group: @project: originals, replies, quotes. "
        "Tweet forwarding is on for this group."
    )
    assert forwardings(scene) == [("project", False, True, True)]
    with tenant_context(scene.tenant):
        group = Group.objects.get(chat_id=scene.chat_id)
        assert group.effective_features["tweet_forwarding"] is True
    scene.say(scene.owner, "/xforward founder")
    [listing] = scene.say(scene.owner, "/xforwarding")
    assert listing == (
        "X accounts forwarded to this group:\n"
        "@project: originals, replies, quotes\n"
        "@founder: originals"
    )
    [stopped] = scene.say(scene.owner, "/xunforward @project")
    assert stopped == "Stopped forwarding @project to this group."
    assert forwardings(scene) == [("founder", False, False, False)]


def test_errors_name_the_field(scene, x):
    [unknown] = scene.say(scene.owner, "/xforward @nobody_at_all")
    assert unknown == "Could not forward @nobody_at_all: username: X has no account @nobody_at_all."
    [bad_option] = scene.say(scene.owner, "/xforward @project everything")
    assert bad_option.startswith(f"{PREFIX} @project: options: 'everything' is not one of")
    [bad_handle] = scene.say(scene.owner, "/xforward @not-a-handle")
    assert bad_handle.startswith(f"{PREFIX} @not-a-handle: username: ")
    [missing] = scene.say(scene.owner, "/xunforward @project")
    assert missing == (
        "Could not stop forwarding @project: username: this group does not forward @project."
    )
    [usage] = scene.say(scene.owner, "/xforward")
    assert usage.startswith("Use /xforward @handle")
    assert forwardings(scene) == []
    assert not [c for c in x.calls() if "nobody" not in c["path"] and "users/by" in c["path"]]


def test_members_anonymous_admins_and_admins_without_the_capability_change_nothing(scene, x):
    member = scene.tg.add_user(7_200_001, "Mia", username="mia")
    scene.tg.set_member(scene.chat_id, member["id"], "member")
    [refused] = scene.say(member, "/xforward @project")
    assert refused == "Only the group's admins who manage this community's settings can do this."
    [anonymous] = scene.say(
        scene.owner,
        "/xforward @project",
        sender_chat={"id": scene.chat_id, "type": "supergroup", "title": "Fans"},
    )
    assert anonymous.startswith("Send this command as yourself")
    # A Telegram admin of the group whose manage_settings the owner took away.
    admin = scene.tg.add_user(7_200_002, "Ada", username="ada")
    scene.tg.set_member(scene.chat_id, admin["id"], "administrator")
    admins_refresh(tenant=scene.tenant, chat_id=scene.chat_id, actor=SYSTEM)
    membership_set_capabilities(
        tenant=scene.tenant,
        user=user_get(telegram_id=admin["id"]),
        grant=[],
        revoke=["manage_settings"],
        actor=SYSTEM,
    )
    [limited] = scene.say(admin, "/xforward @project")
    assert limited == refused
    assert forwardings(scene) == []
    assert not [c for c in x.calls() if "users/by" in c["path"]]  # no X read spent


def test_commands_outside_a_bound_group_are_not_configuration(scene, x):
    scene.tg.send_message(scene.bot_id, scene.owner["id"], scene.owner["id"], "hi")
    update = scene.tg.send_message(
        scene.bot_id, scene.owner["id"], scene.owner["id"], "/xforward @project"
    )
    application_process(scene.application, update)
    [reply] = [m["text"] for m in scene.tg.sent(scene.bot_id, scene.owner["id"])]
    assert reply.startswith("Send this command in the group")
    assert forwardings(scene) == []


def test_a_settings_manager_who_is_no_admin_of_this_group_changes_nothing(scene, x, user_with_role):
    # An admin of the community (another group's), only a member of this one.
    elsewhere = scene.tg.add_user(7_200_003, "Eli", username="eli")
    user_with_role(scene.tenant, "admin", user_id=elsewhere["id"], username="eli")
    scene.tg.set_member(scene.chat_id, elsewhere["id"], "member")
    [refused] = scene.say(elsewhere, "/xforward @project")
    assert refused.startswith("Only the group's admins")
    assert forwardings(scene) == []


def test_an_admin_demoted_since_the_last_sync_changes_nothing(scene, x):
    # The synced admin list still names the owner; Telegram says they are a member now.
    scene.tg.set_member(scene.chat_id, scene.owner["id"], "member")
    [refused] = scene.say(scene.owner, "/xforward @project")
    assert refused.startswith("Only the group's admins")
    assert forwardings(scene) == []
