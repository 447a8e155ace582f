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
    # "credential": a community connects an account (xclient.credentials); "link": a
    # Telegram user links theirs (xclient.links), ``user`` and ``confirmed`` say who.
    kind = models.CharField(max_length=12, default="credential")
    user = models.ForeignKey(
        "accounts.TelegramUser", on_delete=models.CASCADE, null=True, related_name="+"
    )
    confirmed = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"connect of tenant {self.tenant_id} since {self.started_at:%Y-%m-%d %H:%M}"


class XLink(models.Model):
    """A Telegram user's X account: one active link per user and per X account across the
    whole platform (partial unique indexes on active rows). ``x_user_id``, ``username``,
    ``x_created_at`` and ``followers`` are what X said (its OAuth token's ``users/me``, or
    the author of the post carrying the code), never what the user typed. Unlinked rows
    stay (``unlinked_at``): the relink cooldown and anti-fraud read the history.
    ``confirmed``: Telegram vouched for the user when the link was made (a bot update,
    Telegram's Ed25519 signature, the platform bot's initData), not only a tenant's bot
    token, whose owner can sign initData for anybody."""

    class Via(models.TextChoices):
        OAUTH = "oauth", "OAuth 2.0 consent on X"
        CODE = "code", "a one-time code posted from the account"

    user = models.ForeignKey(
        "accounts.TelegramUser", on_delete=models.CASCADE, related_name="x_links"
    )
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    x_user_id = models.BigIntegerField()
    username = models.CharField(max_length=50)
    x_created_at = models.DateTimeField(null=True)  # the X account's age
    followers = models.PositiveIntegerField(default=0)
    via = models.CharField(max_length=8, choices=Via.choices)
    confirmed = models.BooleanField(default=False)
    access_token = models.TextField(blank=True)  # encrypted (OAuth links only)
    refresh_token = models.TextField(blank=True)  # encrypted
    expires_at = models.DateTimeField(null=True)
    scopes = models.CharField(max_length=300, blank=True)
    linked_at = models.DateTimeField()
    refreshed_at = models.DateTimeField()
    unlinked_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["x_user_id"],
                condition=models.Q(unlinked_at__isnull=True),
                name="xlink_one_active_per_x_account",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(unlinked_at__isnull=True),
                name="xlink_one_active_per_user",
            ),
        ]
        indexes = [
            models.Index(fields=["refreshed_at"], name="xlink_refreshed_at"),
            models.Index(fields=["x_user_id", "unlinked_at"], name="xlink_x_history"),
        ]

    def __str__(self) -> str:
        state = "unlinked" if self.unlinked_at else "linked"
        return f"user {self.user_id} {state} @{self.username} ({self.x_user_id})"


class LinkCode(models.Model):
    """A one-time code a user posts from the X account they name (the fallback to OAuth):
    one pending code per user, for ``CODE_TTL``."""

    user = models.OneToOneField("accounts.TelegramUser", on_delete=models.CASCADE, related_name="+")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    username = models.CharField(max_length=15)  # as typed: only where to look
    code = models.CharField(max_length=32)
    confirmed = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"code of user {self.user_id} for @{self.username}"
