"""A community's X: the accounts it forwards, its mention rules, every post it received
(once), what was forwarded or relayed where, and its KOLs with their posts' engagement
over time (tenant schema)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models


class Account(models.Model):
    """An X account this community follows, resolved through X (id and handle as X
    confirmed them; a handle can change, the id cannot)."""

    x_user_id = models.BigIntegerField(unique=True)
    username = models.CharField(max_length=15)
    name = models.CharField(max_length=100, blank=True)
    resolved_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"@{self.username}"


class Forwarding(models.Model):
    """Forward ``account``'s posts to the group ``chat_id``: originals always; reposts,
    replies and quotes when switched on."""

    chat_id = models.BigIntegerField()
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="forwardings")
    include_reposts = models.BooleanField(default=False)
    include_replies = models.BooleanField(default=False)
    include_quotes = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["chat_id", "account"], name="xfeed_forwarding_key")
        ]

    def __str__(self) -> str:
        return f"@{self.account_id} -> {self.chat_id}"


def _words() -> ArrayField:
    return ArrayField(models.CharField(max_length=64), default=list, blank=True)


class MentionRule(models.Model):
    """Relay posts about the project to the group ``chat_id``: a post matches when it has
    any of the terms (keywords, "multi word phrases", #hashtags, $cashtags, @mentions),
    none of the exclusions, an author with at least ``min_followers``, and one of
    ``languages`` (empty: any)."""

    chat_id = models.BigIntegerField()
    name = models.CharField(max_length=64)
    keywords = _words()
    hashtags = _words()
    cashtags = _words()
    mentions = _words()
    exclusions = _words()
    min_followers = models.PositiveIntegerField(default=0)
    languages = ArrayField(models.CharField(max_length=8), default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["chat_id", "name"], name="xfeed_mention_rule_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} -> {self.chat_id}"


class Cursor(models.Model):
    """Where polling and backfill resume for one compiled search query: the newest post
    id it returned (``since_id`` for the next search)."""

    key = models.CharField(max_length=64, unique=True)
    query = models.TextField()
    since_id = models.BigIntegerField(null=True)
    polled_at = models.DateTimeField(null=True)
    # Polling: the rows the query serves (``Compiled.members``: a changed query resumes
    # where the old ones of its members were), when it was made (its first search
    # forwards nothing older), and how long to wait between searches (adaptive).
    members = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    created_at = models.DateTimeField(null=True)
    interval_s = models.PositiveIntegerField(default=0)  # 0: XFEED_POLL_SECONDS

    def __str__(self) -> str:
        return f"{self.key} since {self.since_id}"


class Post(models.Model):
    """An X post this community received, once, whichever path brought it first."""

    class Kind(models.TextChoices):
        ORIGINAL = "original"
        REPOST = "repost"
        REPLY = "reply"
        QUOTE = "quote"

    class Via(models.TextChoices):
        STREAM = "stream"
        POLL = "poll"
        BACKFILL = "backfill"

    post_id = models.BigIntegerField(unique=True)
    author_id = models.BigIntegerField()
    author_username = models.CharField(max_length=15)
    author_followers = models.PositiveIntegerField(null=True)
    author_created_at = models.DateTimeField(null=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    text = models.TextField()
    lang = models.CharField(max_length=8, blank=True)
    media = models.JSONField(default=list, blank=True)  # [{"type", "url"}] previews
    created_at = models.DateTimeField()  # on X
    received_at = models.DateTimeField()
    via = models.CharField(max_length=8, choices=Via.choices)
    # A digest of the normalized text (``spam.text_key``): copies by other authors are
    # found by index, not by reading every recent post.
    text_key = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["post_id"]
        indexes = [
            models.Index(fields=["author_id", "post_id"], name="xfeed_post_author"),
            models.Index(fields=["text_key", "created_at"], name="xfeed_post_text"),
        ]

    def __str__(self) -> str:
        return f"post {self.post_id} by @{self.author_username}"


class Forward(models.Model):
    """``post`` forwarded to the group ``chat_id`` (at most once: the key)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="forwards")
    chat_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post", "chat_id"], name="xfeed_forward_key")
        ]

    def __str__(self) -> str:
        return f"post {self.post_id} -> {self.chat_id}"


class Mention(models.Model):
    """``post`` matched ``rule``: relayed to its group, or held back as spam (the reason
    is kept for the group's admins)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="mentions")
    rule = models.ForeignKey(MentionRule, on_delete=models.CASCADE, related_name="matches")
    spam_reason = models.CharField(max_length=32, blank=True)
    relayed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["post", "rule"], name="xfeed_mention_key")]

    def __str__(self) -> str:
        return f"post {self.post_id} ~ rule {self.rule_id}"


class Kol(models.Model):
    """A key opinion leader the community works with: who, how they are paid, and the
    campaigns they post for."""

    class Tier(models.TextChoices):
        NANO = "nano"
        MICRO = "micro"
        MID = "mid"
        MACRO = "macro"
        MEGA = "mega"

    class Billing(models.TextChoices):
        PER_POST = "per_post"
        MONTHLY = "monthly"
        FIXED = "fixed"

    x_user_id = models.BigIntegerField(unique=True)
    username = models.CharField(max_length=15)
    tier = models.CharField(max_length=8, choices=Tier.choices, default=Tier.MICRO)
    rate_amount = models.BigIntegerField(default=0)  # minor units of rate_currency
    rate_currency = models.CharField(max_length=8, default="USDT")
    billing = models.CharField(max_length=8, choices=Billing.choices, default=Billing.PER_POST)
    payout_address = models.CharField(max_length=128, blank=True)
    notes = models.TextField(blank=True, max_length=2000)
    campaigns = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"KOL @{self.username}"


class KolPost(models.Model):
    """A post of a KOL, tagged with the campaigns it counts for."""

    kol = models.ForeignKey(Kol, on_delete=models.CASCADE, related_name="posts")
    post_id = models.BigIntegerField(unique=True)
    text = models.TextField()
    campaigns = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    created_at = models.DateTimeField()  # on X
    tracked_until = models.DateTimeField()  # snapshots stop after this
    next_snapshot_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-post_id"]

    def __str__(self) -> str:
        return f"KOL post {self.post_id}"


class KolSnapshot(models.Model):
    """A post's public metrics at one time (impressions only where X gives them)."""

    post = models.ForeignKey(KolPost, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField()
    likes = models.PositiveIntegerField()
    reposts = models.PositiveIntegerField()
    replies = models.PositiveIntegerField()
    quotes = models.PositiveIntegerField()
    impressions = models.PositiveBigIntegerField(null=True)

    class Meta:
        ordering = ["taken_at"]
        constraints = [
            models.UniqueConstraint(fields=["post", "taken_at"], name="xfeed_snapshot_key")
        ]

    def __str__(self) -> str:
        return f"post {self.post_id} at {self.taken_at:%Y-%m-%d %H:%M}"


class KolFollowers(models.Model):
    """A KOL's follower count as X gave it, one reading per UTC day (the first that day):
    what follower growth in a report is measured from."""

    kol = models.ForeignKey(Kol, on_delete=models.CASCADE, related_name="follower_readings")
    day = models.DateField()
    followers = models.PositiveBigIntegerField()
    taken_at = models.DateTimeField()

    class Meta:
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(fields=["kol", "day"], name="xfeed_kol_followers_day")
        ]

    def __str__(self) -> str:
        return f"KOL {self.kol_id} on {self.day}: {self.followers} followers"
