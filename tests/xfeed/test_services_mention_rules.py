"""Mention rules: terms normalised (#, $, @ stripped, blanks collapsed, duplicates
dropped), anything X would read as query syntax refused naming the field, a rule that
compiles past X's query length refused, created or replaced by (group, name), the
group's mentions switch turned on, every change audited."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from community.models import Group
from config.errors import ServiceError
from history.models import Entry
from history.services import Actor
from notifications.selectors import subscription_states
from tests.xfeed.helpers import aged, sim_now
from xfeed.models import MentionRule
from xfeed.polling import tenant_poll
from xfeed.services import mention_rule_delete, mention_rule_set

ADMIN = Actor.user(4242)


def test_a_rule_is_normalised_saved_and_turns_mentions_on(tenant, bound_group):
    chat = bound_group(tenant)
    rule, created = mention_rule_set(
        tenant=tenant,
        chat_id=chat,
        name="brand",
        keywords=["  to   the moon ", "bragabot", "BragaBot"],
        hashtags=["#Braga", "braga"],
        cashtags=["$brg"],
        mentions=["@bragabot_demo"],
        exclusions=["-airdrop", "#scam", "free money"],
        min_followers=50,
        languages=["EN", "pt"],
        actor=ADMIN,
    )
    assert created
    with tenant_context(tenant):
        saved = MentionRule.objects.get(pk=rule.pk)
        assert saved.keywords == ["to the moon", "bragabot"]
        assert saved.hashtags == ["Braga"]
        assert saved.cashtags == ["BRG"]
        assert saved.mentions == ["bragabot_demo"]
        assert saved.exclusions == ["airdrop", "scam", "free money"]
        assert (saved.min_followers, saved.languages) == (50, ["en", "pt"])
        assert Group.objects.get(chat_id=chat).effective_features["mentions"] is True
    states = {s.event: s.enabled for s in subscription_states(tenant=tenant, chat_id=chat)}
    assert states["mention.found"] is True  # off by default: setting a rule opts in
    entry = Entry.objects.get(action="xfeed.mention_rule_set", tenant_id=tenant.pk)
    assert entry.data["created"] is True and entry.data["hashtags"] == ["Braga"]


def test_the_same_name_replaces_the_terms_and_only_changes_are_audited(tenant, bound_group):
    chat = bound_group(tenant)
    first, _ = mention_rule_set(tenant=tenant, chat_id=chat, name="r", keywords=["a"], actor=ADMIN)
    again, created = mention_rule_set(
        tenant=tenant, chat_id=chat, name="r", keywords=["a"], actor=ADMIN
    )
    assert not created and again.pk == first.pk
    replaced, _ = mention_rule_set(
        tenant=tenant, chat_id=chat, name="r", hashtags=["b"], actor=ADMIN
    )
    assert replaced.pk == first.pk
    with tenant_context(tenant):
        saved = MentionRule.objects.get()
        assert (saved.keywords, saved.hashtags) == ([], ["b"])
    entries = Entry.objects.filter(action="xfeed.mention_rule_set", tenant_id=tenant.pk)
    assert entries.count() == 2
    assert entries.latest("id").data["changed"] == {
        "keywords": {"from": ["a"], "to": []},
        "hashtags": {"from": [], "to": ["b"]},
    }


BAD = [
    ({"name": "has space", "keywords": ["a"]}, "name"),
    ({"name": "", "keywords": ["a"]}, "name"),
    ({"keywords": []}, "keywords"),
    ({"exclusions": ["spam"]}, "keywords"),
    ({"keywords": ["   "]}, "keywords"),
    ({"keywords": ['say "hi"']}, "keywords"),
    ({"keywords": ["(moon"]}, "keywords"),
    ({"keywords": ["moon OR lambo"]}, "keywords"),
    ({"keywords": ["-moon"]}, "keywords"),
    ({"keywords": ["from:elon"]}, "keywords"),
    ({"keywords": ["#tag"]}, "keywords"),
    ({"keywords": ["x" * 65]}, "keywords"),
    ({"hashtags": ["123"]}, "hashtags"),
    ({"hashtags": ["two words"]}, "hashtags"),
    ({"cashtags": ["$TOOLONGX"]}, "cashtags"),
    ({"cashtags": ["$B1"]}, "cashtags"),
    ({"mentions": ["@way_too_long_handle"]}, "mentions"),
    ({"keywords": ["a"], "exclusions": ["(x)"]}, "exclusions"),
    ({"keywords": ["a"], "exclusions": ["#"]}, "exclusions"),
    ({"keywords": ["a"], "languages": ["english"]}, "languages"),
    ({"keywords": ["a"], "languages": ["e"]}, "languages"),
    ({"keywords": ["a"], "languages": ["pt-BR"]}, "languages"),
    ({"keywords": ["a"], "min_followers": -1}, "min_followers"),
    ({"keywords": ["a"], "min_followers": True}, "min_followers"),
    ({"keywords": [f"word{i}" for i in range(51)]}, "keywords"),
]


@pytest.mark.parametrize(("fields", "named"), BAD)
def test_a_bad_term_is_refused_naming_its_field(tenant, bound_group, fields, named):
    chat = bound_group(tenant)
    fields = {"name": "r", **fields}
    with pytest.raises(ServiceError) as refused:
        mention_rule_set(tenant=tenant, chat_id=chat, actor=ADMIN, **fields)
    assert refused.value.status == 400
    assert refused.value.message.startswith(f"{named}: "), refused.value.message
    with tenant_context(tenant):
        assert not MentionRule.objects.exists()
        assert Group.objects.get(chat_id=chat).effective_features["mentions"] is False


def test_a_rule_past_x_s_query_length_is_refused(tenant, bound_group):
    chat = bound_group(tenant)
    words = [f"keyword{i:02d}longer" for i in range(40)]  # ~40 x 20 characters
    with pytest.raises(ServiceError) as refused:
        mention_rule_set(tenant=tenant, chat_id=chat, name="big", keywords=words, actor=ADMIN)
    assert refused.value.code == "query_too_long"
    with tenant_context(tenant):
        assert not MentionRule.objects.exists()


def test_renaming_onto_another_rule_s_name_is_refused(tenant, bound_group):
    chat = bound_group(tenant)
    mention_rule_set(tenant=tenant, chat_id=chat, name="one", keywords=["a"], actor=ADMIN)
    two, _ = mention_rule_set(tenant=tenant, chat_id=chat, name="two", keywords=["b"], actor=ADMIN)
    with pytest.raises(ServiceError) as refused:
        mention_rule_set(
            tenant=tenant, chat_id=chat, name="one", keywords=["c"], rule_id=two.pk, actor=ADMIN
        )
    assert (refused.value.code, refused.value.message[:6]) == ("rule_name_taken", "name: ")
    renamed, _ = mention_rule_set(
        tenant=tenant, chat_id=chat, name="three", keywords=["c"], rule_id=two.pk, actor=ADMIN
    )
    assert renamed.pk == two.pk
    with tenant_context(tenant):
        assert sorted(MentionRule.objects.values_list("name", flat=True)) == ["one", "three"]


def test_rules_of_another_group_or_tenant_are_out_of_reach(make_tenant, bound_group):
    a, b = make_tenant(), make_tenant()
    a_chat, b_chat = bound_group(a), bound_group(b)
    b_rule, _ = mention_rule_set(tenant=b, chat_id=b_chat, name="r", keywords=["x"], actor=ADMIN)
    with pytest.raises(ServiceError) as foreign:
        mention_rule_set(tenant=a, chat_id=b_chat, name="r", keywords=["y"], actor=ADMIN)
    assert foreign.value.code == "group_not_found"
    with pytest.raises(ServiceError) as by_id:
        mention_rule_set(
            tenant=a, chat_id=a_chat, name="r", keywords=["y"], rule_id=b_rule.pk, actor=ADMIN
        )
    assert by_id.value.code == "mention_rule_not_found"
    with pytest.raises(ServiceError):
        mention_rule_delete(tenant=a, chat_id=a_chat, rule_id=b_rule.pk, actor=ADMIN)
    with tenant_context(b):
        assert MentionRule.objects.get().keywords == ["x"]


def test_deleting_a_rule_by_name_or_id_is_audited(tenant, bound_group):
    chat = bound_group(tenant)
    one, _ = mention_rule_set(tenant=tenant, chat_id=chat, name="one", keywords=["a"], actor=ADMIN)
    mention_rule_set(tenant=tenant, chat_id=chat, name="two", keywords=["b"], actor=ADMIN)
    mention_rule_delete(tenant=tenant, chat_id=chat, rule_id=one.pk, actor=ADMIN)
    mention_rule_delete(tenant=tenant, chat_id=chat, name="two", actor=ADMIN)
    with pytest.raises(ServiceError) as gone:
        mention_rule_delete(tenant=tenant, chat_id=chat, name="two", actor=ADMIN)
    assert (gone.value.code, gone.value.status) == ("mention_rule_not_found", 404)
    assert gone.value.message.startswith("name: ")
    with tenant_context(tenant):
        assert not MentionRule.objects.exists()
    deleted = Entry.objects.filter(action="xfeed.mention_rule_deleted", tenant_id=tenant.pk)
    assert sorted(e.data["name"] for e in deleted) == ["one", "two"]


def test_deleting_the_last_rule_switches_the_group_s_mentions_off(tenant, bound_group):
    chat = bound_group(tenant)
    one, _ = mention_rule_set(tenant=tenant, chat_id=chat, name="one", keywords=["a"], actor=ADMIN)
    mention_rule_set(tenant=tenant, chat_id=chat, name="two", keywords=["b"], actor=ADMIN)

    def switched_on() -> bool:
        with tenant_context(tenant):
            return Group.objects.get(chat_id=chat).effective_features["mentions"]

    mention_rule_delete(tenant=tenant, chat_id=chat, rule_id=one.pk, actor=ADMIN)
    assert switched_on() is True  # a rule left to match
    mention_rule_delete(tenant=tenant, chat_id=chat, name="two", actor=ADMIN)
    assert switched_on() is False


def test_what_the_admin_sets_is_what_the_feed_relays(feed, xsim):
    """A group with nothing switched on and mentions not subscribed (their default): a
    rule set through the service is all it takes for a matching post to be queued."""
    fan = aged(xsim, "fan")[0]
    fans = feed(features=())
    mention_rule_set(
        tenant=fans.tenant, chat_id=fans.chat_id, name="brand", hashtags=["#braga"], actor=ADMIN
    )
    xsim.post(fan["id"], "loving #braga this week")
    tenant_poll(tenant=fans.tenant, now=sim_now(xsim))
    [queued] = fans.queued("mention.found")
    assert "loving #braga this week" in queued.text
