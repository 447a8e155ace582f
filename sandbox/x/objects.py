"""Posts and users as the v2 API renders them: the default fields (id, text,
edit_history_tweet_ids; id, name, username) plus those asked for, and ``includes`` for the
expansions asked for.

The published spec (2.167) calls posts "posts" (``post.fields``, ``referenced_posts``,
``includes.posts``, ``repost_count``) where tweepy and older clients say "tweets"
(``tweet.fields``, ``referenced_tweets``, ``includes.tweets``, ``retweet_count``). The
sandbox answers in the dialect the request uses; public_metrics carry both counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.x.clock import iso
from sandbox.x.errors import invalid_request
from sandbox.x.world import Account, Media, Post, World

JSONDict = dict[str, Any]

POST_FIELDS = {
    "attachments", "author_id", "card_uri", "context_annotations", "conversation_id",
    "created_at", "edit_controls", "edit_history_tweet_ids", "edit_history_post_ids",
    "entities", "geo", "id", "in_reply_to_user_id", "lang", "non_public_metrics",
    "note_tweet", "note_post", "organic_metrics", "possibly_sensitive", "promoted_metrics",
    "public_metrics", "referenced_tweets", "referenced_posts", "reply_settings", "source",
    "text", "withheld", "display_text_range", "community_id", "article", "scopes",
    "media_metadata", "paid_partnership",
}  # fmt: skip
MEDIA_FIELDS = {
    "alt_text", "duration_ms", "height", "media_key", "non_public_metrics", "organic_metrics",
    "preview_image_url", "promoted_metrics", "public_metrics", "type", "url", "variants",
    "width",
}  # fmt: skip
USER_FIELDS = {
    "affiliation", "connection_status", "created_at", "description", "entities", "id",
    "is_identity_verified", "location", "most_recent_tweet_id", "name", "parody",
    "pinned_tweet_id", "profile_banner_url", "profile_image_url", "protected",
    "public_metrics", "receives_your_dm", "subscription", "subscription_type", "url",
    "username", "verified", "verified_followers_count", "verified_type", "withheld",
}  # fmt: skip
POST_EXPANSIONS = {
    "author_id", "referenced_tweets.id", "referenced_posts", "referenced_tweets.id.author_id",
    "in_reply_to_user_id", "entities.mentions.username", "attachments.media_keys",
    "attachments.poll_ids", "geo.place_id", "edit_history_tweet_ids",
}  # fmt: skip
USER_EXPANSIONS = {"pinned_tweet_id", "most_recent_tweet_id", "affiliation.user_id"}


def _csv(query: dict[str, str], name: str, allowed: set[str]) -> set[str]:
    raw = query.get(name)
    if raw is None:
        return set()
    values = {v for v in raw.split(",") if v}
    unknown = sorted(values - allowed)
    if not values or unknown:
        bad = unknown[0] if unknown else raw
        raise invalid_request(
            f"The `{name}` query parameter value [{bad}] is not one of "
            f"[{','.join(sorted(allowed))}]",
            name,
            bad,
        )
    return values


@dataclass
class View:
    """What one request asked to see."""

    post_fields: set[str] = field(default_factory=set)
    user_fields: set[str] = field(default_factory=set)
    expansions: set[str] = field(default_factory=set)
    media_fields: set[str] = field(default_factory=set)
    posts_dialect: bool = False  # the spec's "posts" names rather than tweepy's "tweets"

    @classmethod
    def of(cls, query: dict[str, str], *, users_primary: bool = False) -> View:
        tweet_fields = _csv(query, "tweet.fields", POST_FIELDS)
        post_fields = _csv(query, "post.fields", POST_FIELDS)
        allowed = USER_EXPANSIONS if users_primary else POST_EXPANSIONS
        expansions = _csv(query, "expansions", allowed)
        return cls(
            post_fields=tweet_fields | post_fields,
            user_fields=_csv(query, "user.fields", USER_FIELDS),
            expansions=expansions,
            media_fields=_csv(query, "media.fields", MEDIA_FIELDS),
            posts_dialect="post.fields" in query or "referenced_posts" in expansions,
        )


class Renderer:
    """Renders posts and users for one request and collects its ``includes``."""

    def __init__(self, world: World, view: View) -> None:
        self.world = world
        self.view = view
        self.users: dict[str, JSONDict] = {}
        self.posts: dict[str, JSONDict] = {}
        self.media: dict[str, JSONDict] = {}

    def post(self, post: Post, *, expand: bool = True) -> JSONDict:
        fields, posts_names = self.view.post_fields, self.view.posts_dialect
        out: JSONDict = {"id": post.id, "text": post.text}
        out["edit_history_post_ids" if posts_names else "edit_history_tweet_ids"] = [post.id]
        if "author_id" in fields or "author_id" in self.view.expansions:
            out["author_id"] = post.author_id
        if "created_at" in fields:
            out["created_at"] = iso(post.created_at)
        if "conversation_id" in fields:
            out["conversation_id"] = post.conversation_id
        if "in_reply_to_user_id" in fields and post.in_reply_to_user_id:
            out["in_reply_to_user_id"] = post.in_reply_to_user_id
        if post.references and ({"referenced_tweets", "referenced_posts"} & fields or expand):
            refs = [{"type": t, "id": pid} for t, pid in post.references]
            if "referenced_tweets" in fields or "referenced_tweets.id" in self.view.expansions:
                out["referenced_tweets"] = refs
            if "referenced_posts" in fields or "referenced_posts" in self.view.expansions:
                out["referenced_posts"] = refs
        if post.media and (
            "attachments" in fields or "attachments.media_keys" in self.view.expansions
        ):
            out["attachments"] = {"media_keys": [m.media_key for m in post.media]}
        if "entities" in fields and post.entities:
            out["entities"] = post.entities
        if "lang" in fields:
            out["lang"] = post.lang
        if "possibly_sensitive" in fields:
            out["possibly_sensitive"] = False
        if "reply_settings" in fields:
            out["reply_settings"] = "everyone"
        if "public_metrics" in fields:
            reposts = len(post.reposters)
            out["public_metrics"] = {
                "retweet_count": reposts,
                "repost_count": reposts,
                "reply_count": post.reply_count,
                "like_count": len(post.likers),
                "quote_count": post.quote_count,
                "bookmark_count": 0,
                "impression_count": post.impression_count,
            }
        if expand:
            self._expand_post(post)
        return out

    def _expand_post(self, post: Post) -> None:
        expansions = self.view.expansions
        if "author_id" in expansions:
            self._include_user(post.author_id)
        if "in_reply_to_user_id" in expansions and post.in_reply_to_user_id:
            self._include_user(post.in_reply_to_user_id)
        if "entities.mentions.username" in expansions:
            for mention in post.entities.get("mentions", []):
                if "id" in mention:
                    self._include_user(mention["id"])
        if "attachments.media_keys" in expansions:
            for item in post.media:
                self.media.setdefault(item.media_key, self._media(item))
        if expansions & {"referenced_tweets.id", "referenced_posts"}:
            for _, pid in post.references:
                referenced = self.world.posts.get(pid)
                if referenced is not None and pid not in self.posts:
                    self.posts[pid] = self.post(referenced, expand=False)
                    if "referenced_tweets.id.author_id" in expansions:
                        self._include_user(referenced.author_id)

    def _media(self, item: Media) -> JSONDict:
        """X always gives ``media_key`` and ``type``; ``url`` only for a photo,
        ``preview_image_url`` only for a video or GIF."""
        fields = self.view.media_fields
        out: JSONDict = {"media_key": item.media_key, "type": item.type}
        if "url" in fields and item.type == "photo":
            out["url"] = item.url
        if "preview_image_url" in fields and item.type != "photo":
            out["preview_image_url"] = item.url
        if "width" in fields:
            out["width"] = item.width
        if "height" in fields:
            out["height"] = item.height
        return out

    def _include_user(self, account_id: str) -> None:
        if account_id not in self.users and account_id in self.world.accounts:
            self.users[account_id] = self.user(self.world.accounts[account_id])

    def user(self, account: Account) -> JSONDict:
        fields = self.view.user_fields
        out: JSONDict = {"id": account.id, "name": account.name, "username": account.username}
        if "created_at" in fields:
            out["created_at"] = iso(account.created_at)
        if "description" in fields:
            out["description"] = account.description
        if "protected" in fields:
            out["protected"] = account.protected
        if "verified" in fields:
            out["verified"] = account.verified
        if "verified_type" in fields:
            out["verified_type"] = "blue" if account.verified else "none"
        if "public_metrics" in fields:
            posts = sum(1 for p in self.world.posts.values() if p.author_id == account.id)
            out["public_metrics"] = {
                "followers_count": len(account.followers),
                "following_count": len(account.following),
                "tweet_count": posts,  # tweepy's name; the spec's is post_count
                "post_count": posts,
                "listed_count": 0,
                "like_count": account.like_count,
            }
        return out

    def includes(self) -> JSONDict:
        out: JSONDict = {}
        if self.users:
            out["users"] = list(self.users.values())
        if self.posts:
            out["posts" if self.view.posts_dialect else "tweets"] = list(self.posts.values())
        if self.media:
            out["media"] = list(self.media.values())
        return out
