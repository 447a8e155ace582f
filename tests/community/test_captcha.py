"""The welcome check end to end: a python-telegram-bot Application with the community
handlers against the sandbox Telegram; the deadline is reached by moving the check's
deadline into the past and running the job the runtime would run."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import tenant_context

from botruntime.models import Job
from botruntime.services import job_run, jobs_claim
from community.models import Captcha, Member
from community.services import moderation_rules_update
from config.job_registry import job_kinds
from history.models import Entry
from history.services import Actor


def _captcha(scene, user) -> Captcha:
    with tenant_context(scene.tenant):
        return Captcha.objects.get(group__chat_id=scene.chat_id, user_id=user["id"])


def _overdue(scene, user) -> None:
    with tenant_context(scene.tenant):
        Captcha.objects.filter(user_id=user["id"]).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )


def _run_job(kind: str, tenant, payload: dict | None = None) -> None:
    with tenant_context(tenant):
        job_kinds()[kind].func(tenant=tenant, payload=payload or {})


def _welcome(scene) -> dict:
    [message] = [m for m in scene.bot_messages() if m.get("reply_markup")]
    return message


def test_join_restricts_and_posts_a_button_only_the_newcomer_can_press(scene):
    scene.update_group(welcome_text="Hi {name}, welcome to {group}!")
    newcomer = scene.user("nina", join=True)

    # Restricted: may not write until the check is passed.
    member = scene.member(newcomer)
    assert member["status"] == "restricted" and member["can_send_messages"] is False
    welcome = _welcome(scene)
    assert welcome["text"].startswith("Hi Nina, welcome to Fans!")
    assert "within 5 min" in welcome["text"]
    # The name is a mention of the newcomer (Telegram turns the tg://user link into a
    # text_mention; the sandbox keeps it as the link).
    [mention] = [e for e in welcome["entities"] if e["type"] in ("text_mention", "text_link")]
    assert welcome["text"][mention["offset"] : mention["offset"] + mention["length"]] == "Nina"
    assert mention.get("url") == f"tg://user?id={newcomer['id']}" or (
        mention["user"]["id"] == newcomer["id"]
    )
    [[button]] = welcome["reply_markup"]["inline_keyboard"]
    assert button == {"text": "I'm human", "callback_data": f"captcha:{newcomer['id']}"}
    check = _captcha(scene, newcomer)
    assert check.status == "pending" and check.message_id == welcome["message_id"]
    assert check.expires_at - check.created_at == timedelta(minutes=5)
    # The removal is a durable job at the deadline.
    job = Job.objects.get(kind="community.captcha_expire", tenant=scene.tenant)
    assert job.payload == {"chat_id": scene.chat_id, "user_id": newcomer["id"]}
    assert job.run_at == check.expires_at

    # Someone else presses the button: refused with an alert, nothing changes.
    other = scene.user("otto")
    press = scene.tg.press_button(
        scene.bot_id, scene.chat_id, other["id"], welcome["message_id"], button["callback_data"]
    )
    scene.process(press)
    answer = scene.tg.callback_answer(press["callback_query"]["id"])
    assert answer["show_alert"] is True and "new member only" in answer["text"]
    assert scene.member(newcomer)["status"] == "restricted"
    assert _captcha(scene, newcomer).status == "pending"

    # The newcomer presses: unrestricted, the button goes, audited.
    press = scene.tg.press_button(
        scene.bot_id,
        scene.chat_id,
        newcomer["id"],
        welcome["message_id"],
        button["callback_data"],
    )
    scene.process(press)
    assert scene.member(newcomer)["status"] == "member"
    assert "Welcome" in scene.tg.callback_answer(press["callback_query"]["id"])["text"]
    assert _captcha(scene, newcomer).status == "passed"
    assert not _welcome_buttons(scene)
    entry = Entry.objects.get(tenant=scene.tenant, action="captcha.passed")
    assert entry.actor_id == str(newcomer["id"]) and entry.data["chat_id"] == scene.chat_id
    assert Entry.objects.filter(tenant=scene.tenant, action="captcha.started").count() == 1
    scene.say(newcomer, "hello everyone")  # may write now (the sandbox refuses otherwise)

    # The deadline passing later does nothing to a verified member.
    _overdue(scene, newcomer)
    _run_job(
        "community.captcha_expire",
        scene.tenant,
        {"chat_id": scene.chat_id, "user_id": newcomer["id"]},
    )
    assert scene.member(newcomer)["status"] == "member"


def _welcome_buttons(scene) -> list:
    return [m for m in scene.bot_messages() if m.get("reply_markup")]


def test_unanswered_check_removes_the_member_at_the_deadline(scene):
    newcomer = scene.user("sam", join=True)
    welcome = _welcome(scene)

    # Before the deadline the job does nothing.
    payload = {"chat_id": scene.chat_id, "user_id": newcomer["id"]}
    _run_job("community.captcha_expire", scene.tenant, payload)
    assert scene.member(newcomer)["status"] == "restricted"

    # The deadline passes: the runtime claims the durable job and runs it.
    _overdue(scene, newcomer)
    Job.objects.filter(kind="community.captcha_expire").update(
        run_at=timezone.now() - timedelta(seconds=1)
    )
    [job] = jobs_claim(worker="test", kinds=["community.captcha_expire"])
    assert job.payload == payload
    assert job_run(job=job, worker="test") == "done"

    # Kicked (ban + unban): gone, and free to join again.
    assert scene.member(newcomer)["status"] == "left"
    methods = [c["method"] for c in scene.tg.calls(scene.bot_id)]
    assert methods.index("banChatMember") < methods.index("unbanChatMember")
    assert not scene.live(welcome["message_id"])  # the unanswered welcome is deleted
    assert _captcha(scene, newcomer).status == "kicked"
    entry = Entry.objects.get(tenant=scene.tenant, action="captcha.kicked")
    assert entry.target_id == str(newcomer["id"]) and entry.data["chat_id"] == scene.chat_id

    # Running again (a retry, or the sweep) changes nothing and audits nothing more.
    _run_job("community.captcha_expire", scene.tenant, payload)
    _run_job("community.captcha_sweep", scene.tenant)
    assert Entry.objects.filter(tenant=scene.tenant, action="captcha.kicked").count() == 1

    # Coming back starts a new check: restricted again, a new welcome, a new job.
    scene.process(*scene.tg.join(scene.chat_id, newcomer["id"], scene.bot_id))
    assert _captcha(scene, newcomer).status == "pending"
    assert scene.member(newcomer)["status"] == "restricted"
    assert _welcome(scene)["message_id"] != welcome["message_id"]
    assert Job.objects.filter(kind="community.captcha_expire", status="pending").count() == 1


def test_press_after_the_deadline_is_too_late(scene):
    newcomer = scene.user("lou", join=True)
    welcome = _welcome(scene)
    _overdue(scene, newcomer)

    press = scene.tg.press_button(
        scene.bot_id,
        scene.chat_id,
        newcomer["id"],
        welcome["message_id"],
        f"captcha:{newcomer['id']}",
    )
    scene.process(press)

    answer = scene.tg.callback_answer(press["callback_query"]["id"])
    assert answer["show_alert"] is True and "Too late" in answer["text"]
    assert scene.member(newcomer)["status"] == "restricted"
    assert _captcha(scene, newcomer).status == "pending"


def test_the_sweep_removes_overdue_members_the_jobs_missed_and_forgets_old_rows(scene):
    late = scene.user("lea", join=True)
    early = scene.user("eve", join=True)
    _overdue(scene, late)
    long_ago = timezone.now() - timedelta(days=40)
    with tenant_context(scene.tenant):
        Member.objects.filter(user_id=early["id"]).update(joined_at=long_ago)

    _run_job("community.captcha_sweep", scene.tenant)

    assert scene.member(late)["status"] == "left"
    assert scene.member(early)["status"] == "restricted"
    with tenant_context(scene.tenant):
        assert list(Member.objects.values_list("user_id", flat=True)) == [late["id"]]
        Captcha.objects.filter(user_id=late["id"]).update(resolved_at=long_ago)
    _run_job("community.captcha_sweep", scene.tenant)
    with tenant_context(scene.tenant):
        assert list(Captcha.objects.values_list("user_id", flat=True)) == [early["id"]]


def test_timeout_is_a_group_setting(scene):
    moderation_rules_update(
        tenant=scene.tenant,
        chat_id=scene.chat_id,
        rules={"captcha": {"timeout_seconds": 90}},
        actor=Actor.user(scene.owner["id"]),
    )
    newcomer = scene.user("tim", join=True)

    check = _captcha(scene, newcomer)
    assert check.expires_at - check.created_at == timedelta(seconds=90)
    assert "within 1 min" in _welcome(scene)["text"]


def test_a_join_reported_twice_is_greeted_once(scene):
    newcomer = scene.user("dup", member=False)
    updates = scene.tg.join(scene.chat_id, newcomer["id"], scene.bot_id)
    chat_member = {
        "update_id": updates[-1]["update_id"] + 1,
        "chat_member": {
            "chat": {"id": scene.chat_id, "type": "supergroup", "title": "Fans"},
            "from": newcomer,
            "date": updates[-1]["message"]["date"],
            "old_chat_member": {"status": "left", "user": newcomer},
            "new_chat_member": {"status": "member", "user": newcomer},
        },
    }

    scene.process(*updates, chat_member)

    assert len(_welcome_buttons(scene)) == 1
    assert Job.objects.filter(kind="community.captcha_expire", tenant=scene.tenant).count() == 1


def test_leaving_before_answering_ends_the_check(scene):
    newcomer = scene.user("leo", join=True)

    left = {
        "update_id": 10**6 + newcomer["id"] % 1000,
        "chat_member": {
            "chat": {"id": scene.chat_id, "type": "supergroup", "title": "Fans"},
            "from": newcomer,
            "date": 1,
            "old_chat_member": scene.member(newcomer),  # restricted, still a member
            "new_chat_member": {"status": "left", "user": newcomer},
        },
    }
    scene.process(left)

    assert _captcha(scene, newcomer).status == "left"
    assert Entry.objects.filter(tenant=scene.tenant, action="captcha.left").count() == 1


def test_welcome_off_greets_nobody_but_remembers_the_join(scene):
    scene.update_group(features={"welcome": False})
    newcomer = scene.user("quiet", join=True)

    assert scene.bot_messages() == []
    assert scene.member(newcomer)["status"] == "member"
    with tenant_context(scene.tenant):
        assert Member.objects.filter(user_id=newcomer["id"]).exists()
        assert not Captcha.objects.exists()


def test_captcha_off_posts_the_welcome_without_a_button(scene):
    moderation_rules_update(
        tenant=scene.tenant,
        chat_id=scene.chat_id,
        rules={"captcha": {"enabled": False}},
        actor=Actor.user(scene.owner["id"]),
    )
    scene.user("free", join=True)

    [welcome] = scene.bot_messages()
    assert welcome["text"] == "Welcome to Fans, Free!"
    assert "reply_markup" not in welcome


def test_members_added_by_an_admin_are_not_checked(scene):
    guest = scene.user("guest", member=False)

    updates = scene.tg.change_member(scene.chat_id, guest["id"], "member", scene.owner["id"])
    scene.process(*updates)

    assert scene.member(guest)["status"] == "member"
    [welcome] = scene.bot_messages()
    assert "reply_markup" not in welcome


def test_bot_without_restrict_rights_is_refused_and_the_removal_failure_is_audited(
    make_scene,
):
    scene = make_scene(bot_rights={"can_restrict_members": False})
    newcomer = scene.user("rex", join=True)
    assert scene.member(newcomer)["status"] == "member"  # Telegram refused the restriction
    _overdue(scene, newcomer)

    _run_job(
        "community.captcha_expire",
        scene.tenant,
        {"chat_id": scene.chat_id, "user_id": newcomer["id"]},
    )

    check = _captcha(scene, newcomer)
    assert check.status == "failed" and check.error
    entry = Entry.objects.get(tenant=scene.tenant, action="captcha.kick_failed")
    assert entry.data["code"] == "telegram_error"
