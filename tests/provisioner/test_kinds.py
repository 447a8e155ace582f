"""Every folder of bot_templates/ loads as a kind whose schema, commands and messages agree."""

from __future__ import annotations

import pytest

from provisioner.kinds import DEFAULT_LANGUAGE, KindNotFound, kind_get, kinds


def test_the_four_kinds_load():
    assert sorted(kinds()) == ["airdrop", "moderation", "task", "white_label"]


@pytest.mark.parametrize("name", ["airdrop", "moderation", "task", "white_label"])
def test_a_kind_has_english_for_every_message_and_a_second_language(name):
    kind = kind_get(name)
    assert set(kind.messages[DEFAULT_LANGUAGE]) == set(kind.variables)
    assert len(kind.languages) >= 2
    assert kind.commands and all(c and d for c, d in kind.commands)
    assert kind.parameters["type"] == "object"
    assert kind.parameters["additionalProperties"] is False


def test_a_language_without_a_text_falls_back_to_english():
    kind = kind_get("white_label")
    assert "raid_announce" not in kind.messages["es"]
    assert kind.message_source("raid_announce", "es") == kind.messages["en"]["raid_announce"]
    assert kind.message_source("welcome", "es") == kind.messages["es"]["welcome"]


def test_an_unknown_kind_or_message_is_named():
    with pytest.raises(KindNotFound, match="no bot kind 'spam'; kinds: airdrop, moderation"):
        kind_get("spam")
    with pytest.raises(KeyError, match="no message 'nope'"):
        kind_get("task").message_source("nope", "en")
