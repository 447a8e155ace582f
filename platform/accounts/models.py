"""Telegram users (global across tenants) and their roles in each tenant (public schema)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from accounts.roles import Capability, Role


class TelegramProfile(models.Model):
    """The profile fields Telegram sends with a user (initData, updates): kept globally on
    TelegramUser, and per tenant on TenantProfile when only a tenant's bot vouches."""

    username = models.CharField(max_length=64, blank=True)
    first_name = models.CharField(max_length=128, blank=True)
    last_name = models.CharField(max_length=128, blank=True)
    language_code = models.CharField(max_length=16, blank=True)
    photo_url = models.URLField(max_length=512, blank=True)
    is_premium = models.BooleanField(default=False)

    class Meta:
        abstract = True


class TelegramUser(TelegramProfile):
    telegram_id = models.BigIntegerField(unique=True)
    is_staff = models.BooleanField(default=False)
    # Preferences the user sets in the Mini App (language overrides Telegram's).
    language = models.CharField(max_length=16, blank=True)
    notification_preferences = models.JSONField(default=dict, blank=True)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"@{self.username}" if self.username else str(self.telegram_id)

    # DRF and Django treat any object on request.user as a user; these make that explicit.
    is_authenticated = True
    is_anonymous = False


class Membership(models.Model):
    """A user's role in one tenant, plus per-user capability grants and revocations."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(TelegramUser, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=12, choices=[(r.value, r.value) for r in Role])
    granted = ArrayField(
        models.CharField(max_length=32, choices=[(c.value, c.value) for c in Capability]),
        default=list,
        blank=True,
    )
    revoked = ArrayField(
        models.CharField(max_length=32, choices=[(c.value, c.value) for c in Capability]),
        default=list,
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_tenant_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} is {self.role} in {self.tenant_id}"


class TenantProfile(TelegramProfile):
    """A user's profile as one tenant's bot signed it (initData HMAC with the tenant's own
    token). The tenant's owner holds that token and can sign anything for any user id, so
    these fields are shown in this tenant only and never reach the global TelegramUser,
    which only the platform bot or Telegram's own Ed25519 signature may change."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(TelegramUser, on_delete=models.CASCADE, related_name="tenant_profiles")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="tenantprofile_tenant_user")
        ]

    def __str__(self) -> str:
        return f"profile of {self.user_id} in {self.tenant_id}"
