"""The messages a group gets, from posts as the sandbox X returns them: the author, the
text escaped for Telegram's HTML, the post's link, the first media as the link preview
(the first link of the message), the rule a mention matched."""

from __future__ import annotations

from dataclasses import replace

from tests.xfeed.helpers import aged, fetch
from xfeed.texts import OPTIONS, TEXT_MAX, forward_text, mention_text


def test_a_forwarded_post(xsim):
    aged(xsim, "project", "other")
    made = xsim.post("project", '<script> & "quotes" #launch')
    xsim.quote("project", made["id"], "quoting myself")
    original, quote = fetch(xsim, "from:project")

    text = forward_text(original)

    assert text.startswith("<b>@project</b> posted on X:")
    assert '&lt;script&gt; &amp; "quotes" #launch' in text
    assert text.endswith(f'<a href="https://x.com/project/status/{made["id"]}">Open on X</a>')
    assert text.index("https://x.com/project/status") == text.index("href=") + 6  # first link
    assert "quoted a post on X" in forward_text(quote)
    assert OPTIONS == {"parse_mode": "HTML"}


def test_the_first_media_is_the_preview(xsim):
    aged(xsim, "project")
    photos = [
        {"type": "photo", "url": "https://pbs.example/first.jpg?a=1&b=2"},
        {"type": "photo", "url": "https://pbs.example/second.jpg"},
    ]
    xsim.post("project", "look", media=photos)
    xsim.post("project", "watch", media=[{"type": "video", "url": "https://pbs.example/v.jpg"}])
    by_text = {post.text: post for post in fetch(xsim, "from:project")}
    album, video = by_text["look"], by_text["watch"]

    text = forward_text(album)

    assert text.startswith('<a href="https://pbs.example/first.jpg?a=1&amp;b=2">\u2060</a>')
    assert "second.jpg" not in text
    # A video's preview image stands for it.
    assert forward_text(video).startswith('<a href="https://pbs.example/v.jpg">\u2060</a>')


def test_a_mention_names_the_author_reach_and_rule(xsim):
    aged(xsim, "fan")
    xsim.post("fan", "x" * 5000)
    [post] = fetch(xsim, "from:fan")

    text = mention_text(replace(post, author_followers=12_345), rule_name="<brand>")

    assert "<b>@fan</b> (12,345 followers) mentioned the project:" in text
    assert "<i>Rule: &lt;brand&gt;</i>" in text
    assert "x" * (TEXT_MAX - 1) + "…" in text and len(text) < 4096
