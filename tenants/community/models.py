"""A tenant's Telegram groups: settings, admins, and one-time binding codes (tenant schema)."""

from __future__ import annotations

from django.db import models

# Feature switches a group can turn on or off, with their defaults. A group stores only
# the switches it changed; the effective set is these defaults overlaid with them.
FEATURE_DEFAULTS: dict[str, bool] = {
    "welcome": True,  # greet new members with welcome_text
    "moderation": False,  # anti-spam filters and moderation commands
    "raids": True,  # X raids announced in the group
    "giveaways": True,
    "leaderboard": True,
    "tweet_forwarding": False,  # forward the project's posts from X
    "mentions": False,  # live mentions of the project on X
}


class Group(models.Model):
    """A Telegram group bound to this tenant, with its settings. Unbinding keeps the row
    (inactive) so the settings come back if the group is bound again."""

    chat_id = models.BigIntegerField(unique=True)
    title = models.CharField(max_length=255, blank=True)
    # The tenant's bot that serves the group (the one added or that received /bind).
    bot_id = models.BigIntegerField(null=True, blank=True)
    language = models.CharField(max_length=16, default="en")
    timezone = models.CharField(max_length=64, default="UTC")
    welcome_text = models.TextField(blank=True, max_length=4096)
    # Switches this group changed from FEATURE_DEFAULTS, e.g. {"moderation": true}.
    features = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    bound_at = models.DateTimeField(null=True, blank=True)
    admins_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"group {self.chat_id} ({self.title})"

    @property
    def effective_features(self) -> dict[str, bool]:
        return {
            **FEATURE_DEFAULTS,
            **{k: v for k, v in self.features.items() if k in FEATURE_DEFAULTS},
        }


class GroupAdmin(models.Model):
    """An administrator of a group as Telegram last reported it."""

    class Status(models.TextChoices):
        CREATOR = "creator"
        ADMINISTRATOR = "administrator"

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="admins")
    telegram_id = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices)
    custom_title = models.CharField(max_length=64, blank=True)
    can_restrict_members = models.BooleanField(default=False)
    can_delete_messages = models.BooleanField(default=False)
    can_promote_members = models.BooleanField(default=False)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "telegram_id"], name="group_admin_unique")
        ]
        indexes = [models.Index(fields=["telegram_id"])]

    def __str__(self) -> str:
        return f"{self.telegram_id} {self.status} of {self.group_id}"


class LinkCode(models.Model):
    """A one-time code an admin creates in the Mini App and sends to the bot in a group
    (``/bind CODE``) to bind that group to this tenant."""

    code = models.CharField(max_length=16, unique=True)
    created_by = models.BigIntegerField()  # Telegram user id
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_in_chat = models.BigIntegerField(null=True, blank=True)
    used_by = models.BigIntegerField(null=True, blank=True)  # Telegram user id of the sender
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"link code {self.pk} by {self.created_by}"


# ---- moderation, captcha, leaderboards ---------------------------------------------------
class ModerationRules(models.Model):
    """A group's moderation rules: the validated document of ``community.rules`` (the
    API's shape). A group without a row has the defaults."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="moderation_rules")
    rules = models.JSONField(default=dict)
    updated_by = models.BigIntegerField(null=True, blank=True)  # Telegram user id
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"moderation rules of {self.group_id}"


class ModerationAction(models.Model):
    """What the bot did about one message and why: the log admins read."""

    class Rule(models.TextChoices):
        FLOOD = "flood"
        LINK = "link"
        FORWARD = "forward"
        BLOCKLIST = "blocklist"

    class Action(models.TextChoices):
        DELETE = "delete"
        WARN = "warn"
        MUTE = "mute"
        BAN = "ban"

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="moderation_actions")
    user_id = models.BigIntegerField()  # Telegram id of the sender
    user_name = models.CharField(max_length=160, blank=True)
    rule = models.CharField(max_length=16, choices=Rule.choices)
    pattern = models.CharField(max_length=64, blank=True)  # the blocklist entry that matched
    detail = models.CharField(max_length=200, blank=True)  # why, in words
    excerpt = models.CharField(max_length=200, blank=True)  # the offending text around the match
    action = models.CharField(max_length=8, choices=Action.choices)
    # The strike this was on the escalation ladder (1-based); 0 when the rule's action
    # was not "escalate".
    strike = models.PositiveSmallIntegerField(default=0)
    until = models.DateTimeField(null=True, blank=True)  # end of a mute
    message_id = models.BigIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)  # Telegram refused to carry it out
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["group", "user_id", "created_at"], name="modaction_user_time"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.user_id} ({self.rule})"


class Member(models.Model):
    """When the bot saw a user join a group: "new member" rules count from here. Members
    who joined before the bot watched have no row and are not new."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="members")
    user_id = models.BigIntegerField()
    joined_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user_id"], name="member_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id}"


class Captcha(models.Model):
    """The welcome check of one member who joined a group: one row per (group, user),
    re-armed when they join again."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PASSED = "passed"
        KICKED = "kicked"  # timed out and removed
        LEFT = "left"  # left before answering
        FAILED = "failed"  # Telegram refused the removal (e.g. the bot lost its rights)

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="captchas")
    user_id = models.BigIntegerField()
    user_name = models.CharField(max_length=160, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    message_id = models.BigIntegerField(null=True, blank=True)  # the welcome with the button
    bot_id = models.BigIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user_id"], name="captcha_unique"),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="captcha_due")]

    def __str__(self) -> str:
        return f"captcha {self.user_id} in {self.group_id}: {self.status}"


class ActivityDay(models.Model):
    """Messages and XP of one user in one group on one day (the group's local date). The
    message path bumps it with one upsert; weekly boards sum these, all-time boards add
    them to ActivityTotal (see community.services.leaderboard)."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+")
    user_id = models.BigIntegerField()
    day = models.DateField()
    messages = models.IntegerField(default=0)
    xp = models.IntegerField(default=0)
    # The name shown on boards, as of the user's latest message.
    name = models.CharField(max_length=160, blank=True)
    username = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user_id", "day"], name="activityday_unique"),
        ]
        indexes = [models.Index(fields=["group", "day"], name="activityday_group_day")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id} on {self.day}"


class ActivityTotal(models.Model):
    """All-time totals of the days the rollup has folded in (up to
    LeaderboardRollup.rolled_through)."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+")
    user_id = models.BigIntegerField()
    messages = models.BigIntegerField(default=0)
    xp = models.BigIntegerField(default=0)
    name = models.CharField(max_length=160, blank=True)
    username = models.CharField(max_length=64, blank=True)
    last_day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user_id"], name="activitytotal_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id}: {self.xp} xp"


class LeaderboardRollup(models.Model):
    """One row per schema: every ActivityDay up to ``rolled_through`` is in ActivityTotal."""

    singleton = models.BooleanField(default=True, unique=True)
    rolled_through = models.DateField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"rolled through {self.rolled_through}"
