"""What the feed says in a group: a forwarded post and a relayed mention, in Telegram's
HTML parse mode (``OPTIONS``). Rendering only (no database, no Telegram).

Telegram previews the first link of a message: a post with media starts with an
invisible link to its first photo (or a video's preview image), so the preview shows the
media; without media the first link is the post on X, previewed as X's card."""

from __future__ import annotations

import html

from xfeed.posts import XPost

OPTIONS = {"parse_mode": "HTML"}
TEXT_MAX = 3500  # of the post's text; the whole message stays under Telegram's 4096
_INVISIBLE = "\u2060"  # a word joiner: the media link's text, shown as nothing
_ACTION = {
    "original": "posted",
    "repost": "reposted",
    "reply": "replied",
    "quote": "quoted a post",
}


def _text(post: XPost) -> str:
    text = post.text if len(post.text) <= TEXT_MAX else post.text[: TEXT_MAX - 1] + "…"
    return html.escape(text, quote=False)


def _media_link(post: XPost) -> str:
    if not post.media:
        return ""
    return f'<a href="{html.escape(post.media[0]["url"])}">{_INVISIBLE}</a>'


def _author(post: XPost) -> str:
    # Plain text, not a link: the post's link must stay the first one (the preview).
    return f"@{html.escape(post.author_username)}" if post.author_username else "An account"


def _footer(post: XPost) -> str:
    return f'<a href="{html.escape(post.link)}">Open on X</a>'


def forward_text(post: XPost) -> str:
    """A followed account's post: who, what it did, its text, the link."""
    head = f"{_media_link(post)}<b>{_author(post)}</b> {_ACTION.get(post.kind, 'posted')} on X:"
    return f"{head}\n\n{_text(post)}\n\n{_footer(post)}"


def mention_text(post: XPost, *, rule_name: str) -> str:
    """A post that matched the mention rule ``rule_name``: who (and their reach), the
    text, the link, the rule."""
    followers = (
        f" ({post.author_followers:,} followers)" if post.author_followers is not None else ""
    )
    head = f"{_media_link(post)}🔎 <b>{_author(post)}</b>{followers} mentioned the project:"
    rule = f"<i>Rule: {html.escape(rule_name)}</i>"
    return f"{head}\n\n{_text(post)}\n\n{_footer(post)} · {rule}"
