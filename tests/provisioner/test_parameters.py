"""Parameters are checked against the kind's JSON Schema, each error at its field."""

from __future__ import annotations

import pytest

from provisioner.kinds import kind_get
from provisioner.parameters import MAX_PARAMETERS_BYTES, ParameterError, parameters_validate
from tests.provisioner.helpers import VALID


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_parameters_pass_with_defaults_filled(name):
    kind = kind_get(name)
    filled = parameters_validate(kind=kind, parameters=VALID[name])
    assert {k: filled[k] for k in VALID[name]} == VALID[name]
    defaults = {k: s["default"] for k, s in kind.parameters["properties"].items() if "default" in s}
    assert {k: filled[k] for k in defaults if k not in VALID[name]} == {
        k: v for k, v in defaults.items() if k not in VALID[name]
    }


@pytest.mark.parametrize(
    ("name", "parameters", "errors"),
    [
        ("white_label", {}, {"brand_name": "this field is required"}),
        (
            "white_label",
            {"brand_name": "A", "website": "javascript:alert(1)", "colour": "red"},
            {"website": "not valid: an https:// address", "colour": "unknown field"},
        ),
        (
            "moderation",
            {"group_name": "G", "warnings_before_mute": 0},
            {"warnings_before_mute": "0 is less than the minimum of 1"},
        ),
        (
            "task",
            {
                "campaign_name": "C",
                "tasks": [
                    {"title": "t", "url": "https://a", "points": 5},
                    {"title": "t", "points": 5000},
                ],
            },
            {
                "tasks[1].url": "this field is required",
                "tasks[1].points": "5000 is greater than the maximum of 1000",
            },
        ),
        (
            "task",
            {
                "campaign_name": "C",
                "tasks": [{"title": "t", "url": "https://a", "points": 1}],
                "ends_at": "2026-12-31T23:59:00",
            },
            {"ends_at": "'2026-12-31T23:59:00' is not a 'date-time'"},
        ),
        (
            "airdrop",
            {**VALID["airdrop"], "token_symbol": "acme!", "chain": "btc"},
            {
                "token_symbol": "not valid: 2 to 10 capital letters or digits",
                "chain": "'btc' is not one of ['ton', 'evm', 'solana']",
            },
        ),
    ],
)
def test_invalid_parameters_name_each_field(name, parameters, errors):
    with pytest.raises(ParameterError) as caught:
        parameters_validate(kind=kind_get(name), parameters=parameters)
    assert caught.value.errors == errors


def test_not_an_object_and_oversized_parameters_are_refused():
    kind = kind_get("moderation")
    with pytest.raises(ParameterError) as caught:
        parameters_validate(kind=kind, parameters=["G"])
    assert caught.value.errors == {"": "parameters must be an object"}
    huge = {"group_name": "G", "banned_words": ["w" * 60 + str(i) for i in range(600)]}
    with pytest.raises(ParameterError) as caught:
        parameters_validate(kind=kind, parameters=huge)
    assert caught.value.errors == {"": f"parameters are larger than {MAX_PARAMETERS_BYTES} bytes"}


def test_a_long_hostile_value_is_not_echoed_whole():
    with pytest.raises(ParameterError) as caught:
        parameters_validate(
            kind=kind_get("moderation"), parameters={"group_name": "G", "links": "x" * 5000}
        )
    assert len(caught.value.errors["links"]) < 300


def test_defaults_are_copies_not_the_schema_itself():
    kind = kind_get("moderation")
    filled = parameters_validate(kind=kind, parameters={"group_name": "G"})
    filled["banned_words"].append("mutated")
    assert kind.parameters["properties"]["banned_words"]["default"] == []
