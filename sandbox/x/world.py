"""Who and what is on the sandbox X: accounts, posts, likes, reposts and follows, with
snowflake-like ids that grow with time. Not thread-safe by itself: callers hold ``lock``.

A repost is a post of its own (``RT @author: text``, referencing the original as
``retweeted``), as on X; likes, reposts, quotes and replies keep the original's
``public_metrics`` current."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.clock import Clock
from sandbox.x import entities
from sandbox.x.errors import SandboxError
from sandbox.x.query import Searchable, words_of

TWEPOCH_MS = 1_288_834_974_657  # X's snowflake epoch


@dataclass
class Account:
    id: str
    username: str
    name: str
    created_at: float
    description: str = ""
    verified: bool = False
    protected: bool = False
    following: dict[str, int] = field(default_factory=dict)  # account id -> follow seq
    followers: set[str] = field(default_factory=set)
    like_count: int = 0


# X's media types and the prefix of their media keys ("3_1460323737035677698").
MEDIA_KEY_PREFIX = {"photo": "3", "video": "7", "animated_gif": "16"}
MAX_MEDIA = 4  # X attaches up to 4 photos, or one video or GIF


@dataclass
class Media:
    media_key: str
    type: str  # photo, video, animated_gif
    url: str  # a photo's image; a video's or GIF's preview image
    width: int = 1200
    height: int = 675


@dataclass
class Post:
    id: str
    text: str
    author_id: str
    created_at: float
    conversation_id: str
    references: list[tuple[str, str]]  # (type, post id): replied_to, quoted, retweeted
    entities: dict
    lang: str = "en"
    in_reply_to_user_id: str | None = None
    likers: dict[str, int] = field(default_factory=dict)  # account id -> like seq
    reposters: dict[str, int] = field(default_factory=dict)  # account id -> repost seq
    reply_count: int = 0
    quote_count: int = 0
    impression_count: int = 0
    media: list[Media] = field(default_factory=list)

    def reference(self, kind: str) -> str | None:
        return next((pid for t, pid in self.references if t == kind), None)


class World:
    def __init__(self, clock: Clock, on_post: Callable[[Post], None] | None = None) -> None:
        self.clock = clock
        self.on_post = on_post
        self.lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.by_username: dict[str, str] = {}  # lower-cased username -> id
        self.posts: dict[str, Post] = {}
        self._last_id = 0
        self._seq = 0

    # ---- ids ------------------------------------------------------------------------
    def new_id(self) -> str:
        """A snowflake: milliseconds since X's epoch << 22, bumped to stay increasing."""
        snowflake = (int(self.clock() * 1000) - TWEPOCH_MS) << 22
        self._last_id = max(snowflake, self._last_id + 1)
        return str(self._last_id)

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # ---- lookups ---------------------------------------------------------------------
    def account(self, account: str) -> Account:
        """By id or username (with or without @)."""
        found = self.accounts.get(account)
        if found is None:
            account_id = self.by_username.get(account.removeprefix("@").lower())
            found = self.accounts.get(account_id or "")
        if found is None:
            raise SandboxError(f"no account {account!r}", "unknown_account", 404)
        return found

    def post(self, post_id: str) -> Post:
        found = self.posts.get(str(post_id))
        if found is None:
            raise SandboxError(f"no post {post_id!r}", "unknown_post", 404)
        return found

    def posts_newest_first(self) -> list[Post]:
        return sorted(self.posts.values(), key=lambda p: int(p.id), reverse=True)

    def searchable(self, post: Post) -> Searchable:
        author = self.accounts[post.author_id]
        kinds = {
            {"retweeted": "retweet", "replied_to": "reply", "quoted": "quote"}[t]
            for t, _ in post.references
        }
        return Searchable(
            words=words_of(post.text),
            hashtags={e["tag"].lower() for e in post.entities.get("hashtags", [])},
            cashtags={e["tag"].lower() for e in post.entities.get("cashtags", [])},
            mentions={e["username"].lower() for e in post.entities.get("mentions", [])},
            author_id=author.id,
            author_username=author.username,
            conversation_id=post.conversation_id,
            kinds=kinds,
        )

    # ---- people ----------------------------------------------------------------------
    def add_account(
        self,
        username: str,
        name: str | None = None,
        *,
        description: str = "",
        verified: bool = False,
        account_id: str | None = None,
    ) -> Account:
        if not username or not username.replace("_", "").isalnum() or len(username) > 15:
            raise SandboxError("a username is 1-15 letters, digits or _", "invalid_username")
        if username.lower() in self.by_username:
            raise SandboxError(f"@{username} is taken", "username_taken", 409)
        account_id = str(account_id) if account_id else self.new_id()
        if account_id in self.accounts:
            raise SandboxError(f"account id {account_id} is taken", "id_taken", 409)
        account = Account(
            id=account_id,
            username=username,
            name=name or username,
            created_at=self.clock(),
            description=description,
            verified=verified,
        )
        self.accounts[account_id] = account
        self.by_username[username.lower()] = account_id
        return account

    def create_post(
        self,
        author: str,
        text: str,
        *,
        reply_to: str | None = None,
        quote_of: str | None = None,
        lang: str = "en",
        media: list[dict] | None = None,
    ) -> Post:
        """``media``: ``{"type": "photo"|"video"|"animated_gif", "url": <image URL>}``
        each (for a video or GIF, the URL of its preview image)."""
        account = self.account(author)
        if not text.strip():
            raise SandboxError("a post needs text", "empty_text")
        attached = self._media(media or [])
        references: list[tuple[str, str]] = []
        post_id = self.new_id()
        conversation_id = post_id
        in_reply_to = None
        if reply_to is not None:
            parent = self.post(reply_to)
            parent_author = self.accounts[parent.author_id]
            # X puts the replied-to handle in front of a reply's text.
            if not text.lower().startswith(f"@{parent_author.username.lower()}"):
                text = f"@{parent_author.username} {text}"
            references.append(("replied_to", parent.id))
            conversation_id = parent.conversation_id
            in_reply_to = parent.author_id
            parent.reply_count += 1
        if quote_of is not None:
            quoted = self.post(quote_of)
            references.append(("quoted", quoted.id))
            quoted.quote_count += 1
        return self._add(
            account, post_id, text, conversation_id, references, lang, in_reply_to, attached
        )

    def _media(self, items: list[dict]) -> list[Media]:
        kinds = [str(item.get("type") or "photo") for item in items]
        if any(kind not in MEDIA_KEY_PREFIX for kind in kinds):
            raise SandboxError("a media type is photo, video or animated_gif", "invalid_media")
        if len(items) > MAX_MEDIA or (len(items) > 1 and set(kinds) != {"photo"}):
            raise SandboxError("up to 4 photos, or one video or GIF", "invalid_media")
        urls = [str(item.get("url") or "") for item in items]
        if not all(url.startswith(("https://", "http://")) for url in urls):
            raise SandboxError("a media url is an http(s) URL", "invalid_media")
        return [
            Media(media_key=f"{MEDIA_KEY_PREFIX[kind]}_{self.new_id()}", type=kind, url=url)
            for kind, url in zip(kinds, urls, strict=True)
        ]

    def repost(self, account: str, post_id: str) -> Post:
        reposter = self.account(account)
        original = self.post(post_id)
        if original.reference("retweeted"):
            original = self.post(original.reference("retweeted") or "")
        if reposter.id in original.reposters:
            raise SandboxError("already reposted", "already_reposted", 409)
        original.reposters[reposter.id] = self.next_seq()
        author = self.accounts[original.author_id]
        new_id = self.new_id()
        text = f"RT @{author.username}: {original.text}"
        return self._add(
            reposter, new_id, text, new_id, [("retweeted", original.id)], original.lang, None
        )

    def _add(
        self,
        account: Account,
        post_id: str,
        text: str,
        conversation_id: str,
        references: list[tuple[str, str]],
        lang: str,
        in_reply_to: str | None,
        media: list[Media] | None = None,
    ) -> Post:
        found = entities.parse(text)
        for mention in found.get("mentions", []):
            known = self.by_username.get(mention["username"].lower())
            if known:
                mention["id"] = known
        post = Post(
            id=post_id,
            text=text,
            author_id=account.id,
            created_at=self.clock(),
            conversation_id=conversation_id,
            references=references,
            entities=found,
            lang=lang,
            in_reply_to_user_id=in_reply_to,
            media=media or [],
        )
        self.posts[post.id] = post
        if self.on_post is not None:
            self.on_post(post)
        return post

    def like(self, account: str, post_id: str) -> None:
        liker, post = self.account(account), self.post(post_id)
        if liker.id in post.likers:
            raise SandboxError("already liked", "already_liked", 409)
        post.likers[liker.id] = self.next_seq()
        liker.like_count += 1

    def follow(self, account: str, target: str) -> None:
        follower, followed = self.account(account), self.account(target)
        if follower.id == followed.id:
            raise SandboxError("an account cannot follow itself", "self_follow")
        if followed.id in follower.following:
            raise SandboxError("already following", "already_following", 409)
        follower.following[followed.id] = self.next_seq()
        followed.followers.add(follower.id)
