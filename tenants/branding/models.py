"""A community's brand (names, profile, colours, logo), its own message texts, and the
custom bots its admins generate (tenant schema). The bots themselves (id, encrypted
token, placement) are tenancy's ``Bot`` rows in the public schema: a custom bot here
names its bot by Telegram id."""

from __future__ import annotations

from django.db import models


class Brand(models.Model):
    """The community's brand: one row per schema (``pk`` 1). The profile fields are what
    Telegram shows for its bot (setMyName, setMyDescription, ...), with Telegram's limits."""

    SINGLETON = 1

    display_name = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=512, blank=True)
    short_description = models.CharField(max_length=120, blank=True)
    # [{"command": "start", "description": "..."}]: the bot's command menu.
    commands = models.JSONField(default=list, blank=True)
    # {"type": "commands"} | {"type": "web_app", "text": ..., "url": ...} | {"type": "default"}
    menu_button = models.JSONField(default=dict, blank=True)
    # {"primary": "#RRGGBB", "accent": ..., "background": ..., "text": ...}
    colors = models.JSONField(default=dict, blank=True)
    # The logo, re-encoded (WebP) at each square size, and the upload's digest.
    logo_sha256 = models.CharField(max_length=64, blank=True)
    logo_512 = models.BinaryField(null=True, blank=True)
    logo_128 = models.BinaryField(null=True, blank=True)
    logo_64 = models.BinaryField(null=True, blank=True)
    profile_applied_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.display_name or "brand"


class MessageText(models.Model):
    """A brand's own text for one message of one bot kind in one language: plain text
    with ``{variable}`` placeholders (provisioner.messages), never a template."""

    kind = models.CharField(max_length=20)
    language = models.CharField(max_length=8)
    key = models.CharField(max_length=40)
    text = models.TextField()
    updated_by = models.BigIntegerField(null=True, blank=True)  # a Telegram user id
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "language", "key"], name="branding_text_unique")
        ]
        ordering = ["kind", "language", "key"]

    def __str__(self) -> str:
        return f"{self.kind}.{self.key} ({self.language})"


class CustomBot(models.Model):
    """A bot of one kind (bot_templates/) with its parameters, and where its deployment
    stands. ``revision`` grows with every deploy; ``config_sha256`` is the digest of the
    configuration last handed to the provisioner."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DEPLOYING = "deploying"
        RUNNING = "running"
        FAILED = "failed"
        PAUSED = "paused"

    telegram_id = models.BigIntegerField(unique=True)
    username = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=20)
    parameters = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    status_reason = models.CharField(max_length=300, blank=True)
    placement = models.CharField(max_length=10, default="pooled")
    revision = models.PositiveIntegerField(default=0)
    config_sha256 = models.CharField(max_length=64, blank=True)
    created_by = models.BigIntegerField(null=True, blank=True)  # a Telegram user id
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} bot {self.telegram_id} ({self.status})"
