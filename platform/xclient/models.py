"""Public-schema tables of the X client: each rate-limit window in use, each tenant's
share of a shared one, the posts each X app was billed for today, and each tenant's
monthly usage and cap."""

from __future__ import annotations

from django.db import models


class Priority(models.IntegerChoices):
    """Who goes first when a window runs short (lower is more important)."""

    VALIDATION = 0, "raid validation"
    FORWARDING = 1, "tweet forwarding"
    MENTIONS = 2, "live mentions"
    KOL_METRICS = 3, "KOL metrics"


class RateWindow(models.Model):
    """One credential's use of one endpoint in its current window. ``credential`` names
    the token (``app:platform``, ``app:t<tenant id>``, ``user:<X user id>``), never holds
    it. ``blocked_until``: X answered 429, or kept failing, so nothing is sent before."""

    credential = models.CharField(max_length=64)
    endpoint = models.CharField(max_length=64)  # "GET /2/tweets/search/recent"
    limit = models.PositiveIntegerField()
    used = models.PositiveIntegerField(default=0)
    resets_at = models.DateTimeField()
    blocked_until = models.DateTimeField(null=True)
    failures = models.PositiveSmallIntegerField(default=0)  # server errors in a row

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["credential", "endpoint"], name="xclient_window_key")
        ]

    def __str__(self) -> str:
        return f"{self.credential} {self.endpoint}: {self.used}/{self.limit}"


class TenantShare(models.Model):
    """A tenant's requests in one window of a credential that several tenants use."""

    window = models.ForeignKey(RateWindow, on_delete=models.CASCADE, related_name="shares")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    used = models.PositiveIntegerField(default=0)
    resets_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["window", "tenant"], name="xclient_share_key")
        ]

    def __str__(self) -> str:
        return f"tenant {self.tenant_id} in window {self.window_id}: {self.used}"


class PostRead(models.Model):
    """A post an X app's reads returned on a UTC day: X bills it once per app and day,
    to the tenant whose read returned it first."""

    app = models.CharField(max_length=64)  # the billed X app: "platform" or "t<tenant id>"
    day = models.DateField()
    post_id = models.BigIntegerField()
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "day", "post_id"], name="xclient_postread_key")
        ]

    def __str__(self) -> str:
        return f"post {self.post_id} read by {self.app} on {self.day}"


class Usage(models.Model):
    """A tenant's billed reads and their cost in one UTC calendar month (``month``: its
    first day); ``alerted``: the highest share of the cap its admins were told of."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    post_reads = models.PositiveIntegerField(default=0)
    user_reads = models.PositiveIntegerField(default=0)
    # Posts and users an X account read of its own data with its own token (X's cheaper
    # "owned reads"), counted apart from post_reads and user_reads.
    owned_reads = models.PositiveIntegerField(default=0)
    cost_micros = models.BigIntegerField(default=0)  # USD millionths
    alerted = models.PositiveSmallIntegerField(default=0)  # 0, 80 or 100 (%)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "month"], name="xclient_usage_month")
        ]

    def __str__(self) -> str:
        return f"tenant {self.tenant_id} {self.month:%Y-%m}: {self.cost_micros} µUSD"


class Budget(models.Model):
    """A tenant's monthly cap on X reads (USD millionths; None: no cap)."""

    tenant = models.OneToOneField("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    monthly_cap_micros = models.BigIntegerField(null=True)

    def __str__(self) -> str:
        return f"tenant {self.tenant_id} cap {self.monthly_cap_micros} µUSD"


class Credential(models.Model):
    """A tenant's X credential, encrypted at rest (``config.encryption``): its app's
    bearer token, or the OAuth 2.0 user token of an X account it connected (owned reads,
    refreshed before it expires). ``x_user_id`` and ``username`` are what X said the
    token belongs to, never what the tenant typed."""

    class Kind(models.TextChoices):
        APP = "app", "app bearer token"
        USER = "user", "OAuth 2.0 user token"

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    x_user_id = models.BigIntegerField(null=True)
    username = models.CharField(max_length=50, blank=True)
    access_token = models.TextField()  # encrypted
    refresh_token = models.TextField(blank=True)  # encrypted
    expires_at = models.DateTimeField(null=True)
    scopes = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "x_user_id"],
                nulls_distinct=False,  # one app token per tenant
                name="xclient_credential_key",
            )
        ]

    def __str__(self) -> str:
        who = f" @{self.username}" if self.username else ""
        return f"tenant {self.tenant_id} {self.kind}{who}"

    @property
    def name(self) -> str:
        """What the budget counts this credential as (never the token)."""
        return f"user:{self.x_user_id}" if self.kind == self.Kind.USER else f"app:t{self.tenant_id}"


class Connect(models.Model):
    """An OAuth 2.0 PKCE connect flow started and not yet finished: its ``state`` (in the
    consent URL and the callback) and its code verifier (encrypted)."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=100, unique=True)
    code_verifier = models.TextField()  # encrypted
    redirect_uri = models.CharField(max_length=500)
    started_by = models.CharField(max_length=64, blank=True)  # the actor's id (history)
    started_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"connect of tenant {self.tenant_id} since {self.started_at:%Y-%m-%d %H:%M}"
