"""A tenant's Telegram groups: settings, admins, and one-time binding codes (tenant schema)."""

from __future__ import annotations

from django.db import models


class Group(models.Model):
    """A Telegram group bound to this tenant, with its settings."""

    chat_id = models.BigIntegerField(unique=True)
    title = models.CharField(max_length=255, blank=True)
    language = models.CharField(max_length=16, default="en")
    timezone = models.CharField(max_length=64, default="UTC")
    welcome_text = models.TextField(blank=True, max_length=4096)
    # Feature switches, e.g. {"raids": true, "moderation": false}.
    features = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    admins_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]


class GroupAdmin(models.Model):
    """An administrator of a group as Telegram last reported it."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="admins")
    telegram_id = models.BigIntegerField()
    status = models.CharField(max_length=16)  # "creator" or "administrator"
    custom_title = models.CharField(max_length=64, blank=True)
    can_restrict_members = models.BooleanField(default=False)
    can_delete_messages = models.BooleanField(default=False)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "telegram_id"], name="group_admin_unique")
        ]


class LinkCode(models.Model):
    """A one-time code an admin creates in the Mini App and sends to the bot in a group
    to bind that group to this tenant."""

    code = models.CharField(max_length=16, unique=True)
    created_by = models.BigIntegerField()  # Telegram user id
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_in_chat = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
