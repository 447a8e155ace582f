"""/xrule, /xunrule and /xrules in a group, end to end on the sandbox Telegram: terms
typed as in a search ("phrases", #tags, $cash, @user, -exclusions, min:, lang:) become
the rule's fields, the group's mentions go on, errors name the field; and the parser on
its own."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from community.models import Group
from config.errors import ServiceError
from xfeed.handlers.rules import rule_terms_parse
from xfeed.models import MentionRule


def test_terms_are_read_as_a_search_is_typed():
    fields = rule_terms_parse(
        'bragabot "to the moon" \u201cgm frens\u201d #Braga $brg @bragabot_demo -giveaway '
        '-"free money" min:250 lang:en,pt lang:ja'
    )
    assert fields == {
        "keywords": ["bragabot", "to the moon", "gm frens"],
        "hashtags": ["#Braga"],
        "cashtags": ["$brg"],
        "mentions": ["@bragabot_demo"],
        "exclusions": ["giveaway", "free money"],
        "min_followers": 250,
        "languages": ["en", "pt", "ja"],
    }


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('"not closed', "keywords"),
        ("min:lots", "min_followers"),
        ("min:-5", "min_followers"),
        ("min:²", "min_followers"),  # str.isdigit says yes, int() refuses it
        ("min:" + "9" * 19, "min_followers"),
        ("word lang:", "languages"),
    ],
)
def test_terms_that_cannot_be_read_name_their_field(text, field):
    with pytest.raises(ServiceError) as refused:
        rule_terms_parse(text)
    assert refused.value.message.startswith(f"{field}: ")


def rules(scene) -> list[MentionRule]:
    with tenant_context(scene.tenant):
        return list(MentionRule.objects.order_by("id"))


def test_an_admin_sets_lists_and_deletes_rules(scene):
    [saved] = scene.say(
        scene.owner, '/xrule brand bragabot "to the moon" #braga -giveaway min:10 lang:en'
    )
    assert saved == (
        'Mention rule created: brand: bragabot "to the moon" #braga -giveaway min:10 lang:en. '
        "Live mentions are on for this group."
    )
    [rule] = rules(scene)
    assert (rule.keywords, rule.hashtags, rule.exclusions) == (
        ["bragabot", "to the moon"],
        ["braga"],
        ["giveaway"],
    )
    assert (rule.min_followers, rule.languages, rule.chat_id) == (10, ["en"], scene.chat_id)
    with tenant_context(scene.tenant):
        assert Group.objects.get(chat_id=scene.chat_id).effective_features["mentions"] is True
    [updated] = scene.say(scene.owner, "/xrule brand $BRG")
    assert updated.startswith("Mention rule updated: brand: $BRG.")
    scene.say(scene.owner, "/xrule team @bragabot_demo")
    [listing] = scene.say(scene.owner, "/xrules")
    assert listing == "Mention rules of this group:\nbrand: $BRG\nteam: @bragabot_demo"
    [deleted] = scene.say(scene.owner, "/xunrule brand")
    assert deleted == "Mention rule brand deleted."
    assert [r.name for r in rules(scene)] == ["team"]


def test_errors_name_the_field_and_save_nothing(scene):
    [no_terms] = scene.say(scene.owner, "/xrule brand -giveaway")
    assert no_terms.startswith("Could not save the rule brand: keywords: a rule needs")
    [bad_tag] = scene.say(scene.owner, "/xrule brand #123")
    assert bad_tag.startswith("Could not save the rule brand: hashtags: '#123' is not a hashtag")
    [bad_lang] = scene.say(scene.owner, "/xrule brand gm lang:english")
    assert bad_lang.startswith("Could not save the rule brand: languages: ")
    [bad_name] = scene.say(scene.owner, "/xrule br@nd gm")
    assert bad_name.startswith("Could not save the rule br@nd: name: ")
    long_words = " ".join(f"longkeyword{i:03d}" for i in range(40))
    [too_long] = scene.say(scene.owner, f"/xrule big {long_words}")
    assert too_long.startswith("Could not save the rule big: keywords: the rule compiles")
    [missing] = scene.say(scene.owner, "/xunrule ghost")
    assert (
        missing
        == "Could not delete the rule ghost: name: no mention rule named 'ghost' in this group."
    )
    [usage] = scene.say(scene.owner, "/xrule brand")
    assert usage.startswith("Use /xrule <name> <terms>")
    assert rules(scene) == []


def test_a_member_cannot_set_or_list_rules(scene):
    member = scene.tg.add_user(7_300_001, "Mo", username="mo")
    scene.tg.set_member(scene.chat_id, member["id"], "member")
    [refused] = scene.say(member, "/xrule brand gm")
    assert refused.startswith("Only the group's admins")
    [listing] = scene.say(member, "/xrules")
    assert listing.startswith("Only the group's admins")
    assert rules(scene) == []
