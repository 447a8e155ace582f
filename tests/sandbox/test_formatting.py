"""parse_mode: markup becomes plain text plus entities (offsets in UTF-16 code units), and
malformed markup is refused like Telegram refuses it."""

from __future__ import annotations

import pytest

from sandbox.telegram.errors import ApiError
from sandbox.telegram.formatting import parse
from sandbox.telegram.objects import command_entities


def test_html_tags_become_entities():
    text, entities = parse(
        '<b>bold <i>both</i></b> <a href="https://x.org/?a=1&amp;b=2">link</a> '
        '<code>c</code> <pre><code class="language-python">p</code></pre> '
        '<span class="tg-spoiler">s</span> &lt;3',
        "HTML",
    )

    assert text == "bold both link c p s <3"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 9},
        {"type": "italic", "offset": 5, "length": 4},
        {"type": "text_link", "offset": 10, "length": 4, "url": "https://x.org/?a=1&b=2"},
        {"type": "code", "offset": 15, "length": 1},
        {"type": "pre", "offset": 17, "length": 1, "language": "python"},
        {"type": "spoiler", "offset": 19, "length": 1},
    ]


def test_offsets_count_utf16_code_units():
    text, entities = parse("🚀 <b>go</b>", "HTML")
    assert text == "🚀 go"
    assert entities == [{"type": "bold", "offset": 3, "length": 2}]  # the rocket counts 2


def test_markdown_v2_entities_and_escapes():
    text, entities = parse("*b* _i_ __u__ ~s~ ||sp|| `c` [t](https://x.org) 1\\.5", "MarkdownV2")
    assert text == "b i u s sp c t 1.5"
    assert [e["type"] for e in entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
    ]
    assert entities[-1]["url"] == "https://x.org"


def test_legacy_markdown_needs_no_escapes():
    text, entities = parse("*Raid* ends at 5.30 (UTC)!", "Markdown")
    assert text == "Raid ends at 5.30 (UTC)!"
    assert entities == [{"type": "bold", "offset": 0, "length": 4}]


@pytest.mark.parametrize(
    ("text", "mode", "detail"),
    [
        ("<b>x", "HTML", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<div>x</div>", "HTML", 'Unsupported start tag "div"'),
        ("<b>x</i>", "HTML", "Unmatched end tag"),
        ("Hi Bob_", "MarkdownV2", "Can't find end of the entity"),
        ("a-b", "MarkdownV2", "Character '-' is reserved"),
        ("*bold", "Markdown", "Can't find end of the entity"),
    ],
)
def test_malformed_markup_is_refused(text, mode, detail):
    with pytest.raises(ApiError) as refused:
        parse(text, mode)
    assert refused.value.error_code == 400
    assert refused.value.description.startswith("Bad Request: can't parse entities: ")
    assert detail in refused.value.description


def test_commands_in_user_text_get_bot_command_entities():
    assert command_entities("/bind@brand_bot ABC and /help") == [
        {"type": "bot_command", "offset": 0, "length": 15},
        {"type": "bot_command", "offset": 24, "length": 5},
    ]
    assert command_entities("not/a command") == []
