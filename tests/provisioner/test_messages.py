"""Messages render as Telegram HTML; a tenant's values and texts are data, never code."""

from __future__ import annotations

import pytest

from provisioner.kinds import kind_get, kinds
from provisioner.messages import (
    MAX_MESSAGE_LENGTH,
    MAX_OVERRIDE_LENGTH,
    MessageError,
    message_render,
    override_check,
)

HOSTILE = [
    "{{ 7 * 7 }}",
    "{% for x in range(10) %}x{% endfor %}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "<b>bold</b><script>alert(1)</script>",
    'a" onclick="x',
    "Tom & Jerry",
    "{first_name}",
]


def _values(kind, key, value):
    return {name: value for name in kind.variables[key]}


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_come_out_as_escaped_text(value):
    kind = kind_get("white_label")
    text = message_render(
        kind=kind, key="welcome", language="en", values=_values(kind, "welcome", value)
    )
    escaped = (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )
    assert f"Welcome to <b>{escaped}</b>, {escaped}!" in text
    assert "49" not in text and "xxxxxxxxxx" not in text and "<script>" not in text


def test_a_value_inside_a_link_cannot_leave_its_attribute():
    kind = kind_get("task")
    tasks = [{"title": "<i>t</i>", "url": 'https://a.example/" onclick="steal()', "points": 3}]
    text = message_render(
        kind=kind, key="task_list", language="en", values={"campaign_name": "C", "tasks": tasks}
    )
    assert '<a href="https://a.example/&#34; onclick=&#34;steal()">&lt;i&gt;t&lt;/i&gt;</a>' in text


@pytest.mark.parametrize("name", ["airdrop", "moderation", "task", "white_label"])
def test_every_message_of_every_kind_renders_in_every_language(name):
    kind = kind_get(name)
    for language in kind.languages:
        for key, variables in kind.variables.items():
            values = {v: [] if v == "tasks" else "v" for v in variables}
            assert message_render(kind=kind, key=key, language=language, values=values)


def test_a_missing_variable_is_an_error_not_an_empty_string():
    kind = kind_get("white_label")
    with pytest.raises(MessageError, match="'brand_name' is undefined"):
        message_render(kind=kind, key="welcome", language="en", values={"first_name": "A"})


def test_an_override_is_plain_text_with_placeholders():
    kind = kind_get("white_label")
    values = {"first_name": "<Ann>", "brand_name": "{{ 7*7 }}"}
    text = message_render(
        kind=kind,
        key="welcome",
        language="en",
        values=values,
        override="Hi {first_name} of {brand_name}! <b>{{ 1+1 }}</b> {% if 1 %}x{% endif %}",
    )
    assert (
        text == "Hi &lt;Ann&gt; of {{ 7*7 }}! &lt;b&gt;{{ 1+1 }}&lt;/b&gt; {% if 1 %}x{% endif %}"
    )


def test_an_override_may_use_only_its_messages_variables():
    kind = kind_get("white_label")
    with pytest.raises(
        MessageError,
        match=r"unknown placeholder \{website\}; this message has: \{first_name\}, \{brand_name\}",
    ):
        override_check(kind=kind, key="welcome", text="See {website}")
    with pytest.raises(MessageError, match="no message 'goodbye'"):
        override_check(kind=kind, key="goodbye", text="Bye")
    with pytest.raises(MessageError, match="empty"):
        override_check(kind=kind, key="welcome", text="   ")
    with pytest.raises(MessageError, match=f"longer than {MAX_OVERRIDE_LENGTH}"):
        override_check(kind=kind, key="welcome", text="x" * (MAX_OVERRIDE_LENGTH + 1))


def test_oversized_values_make_a_clear_error_not_a_refused_send():
    kind = kind_get("white_label")
    values = {"first_name": "A", "brand_name": "<" * MAX_MESSAGE_LENGTH}
    with pytest.raises(MessageError, match="Telegram takes at most 4096"):
        message_render(kind=kind, key="welcome", language="en", values=values)


def test_the_kinds_templates_are_compiled_sandboxed():
    from jinja2.sandbox import SandboxedEnvironment

    from provisioner import messages

    assert isinstance(messages._env, SandboxedEnvironment)
    assert kinds()  # loaded from the repository's files only
