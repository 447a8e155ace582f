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
