"""Notifications (public schema): subscriptions, recipients, the outbox, broadcasts and
per-tenant settings. Every row refers to its tenant; every query filters by tenant or bot.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Now


class NotificationSettings(models.Model):
    """A tenant's notification settings (a row only once something was changed)."""

    tenant = models.OneToOneField("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    # Broadcasts use Telegram's paid broadcasts (allow_paid_broadcast, up to 1,000 msg/s,
    # charged in Stars to the bot's balance) instead of the free ~30 msg/s.
    allow_paid_broadcast = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"notification settings of {self.tenant_id}"


class Subscription(models.Model):
    """A deviation from an event type's default for one chat of a tenant: a user's
    private chat (chat id = the user's Telegram id, positive) or a group (negative id).
    No row means the event type's default applies."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    chat_id = models.BigIntegerField()
    event = models.CharField(max_length=40)
    enabled = models.BooleanField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "chat_id", "event"], name="ntf_subscription_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.chat_id} {self.event}={self.enabled} ({self.tenant_id})"


class Recipient(models.Model):
    """A user the tenant's notifications can reach in a private chat: registered when they
    use the bot or the Mini App (``recipient_register``). Broadcasts to "all members" go to
    the active recipients; to "a group's subscribers" to those seen in that group."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        BLOCKED = "blocked"  # Telegram answered 403: the user blocked the bot

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey("accounts.TelegramUser", on_delete=models.CASCADE, related_name="+")
    chat_id = models.BigIntegerField()  # the user's Telegram id = their private chat's id
    bot_id = models.BigIntegerField(null=True, blank=True)  # the tenant bot they last used
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    groups = ArrayField(models.BigIntegerField(), default=list, blank=True)
    blocked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="ntf_recipient_unique")
        ]
        indexes = [
            models.Index(fields=["tenant", "id"], name="ntf_recipient_tenant_id"),
            GinIndex(fields=["groups"], name="ntf_recipient_groups"),
        ]

    def __str__(self) -> str:
        return f"recipient {self.chat_id} of {self.tenant_id} ({self.status})"


class Broadcast(models.Model):
    """One message to many: expanded into outbox rows in batches (``cursor`` is the last
    recipient id expanded, committed with the rows), then sent by the dispatcher."""

    class Status(models.TextChoices):
        EXPANDING = "expanding"
        SENDING = "sending"
        COMPLETED = "completed"
        CANCELLED = "cancelled"

    class Audience(models.TextChoices):
        TENANT = "tenant"  # every active recipient of the tenant
        GROUP = "group"  # the recipients seen in one bound group

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    bot_id = models.BigIntegerField()
    event = models.CharField(max_length=40)
    text = models.TextField()
    options = models.JSONField(default=dict, blank=True)
    audience = models.CharField(max_length=10, choices=Audience.choices)
    chat_id = models.BigIntegerField(null=True, blank=True)  # the group, for GROUP
    paid = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.EXPANDING)
    cursor = models.BigIntegerField(default=0)
    expanded = models.IntegerField(default=0)
    idempotency_key = models.CharField(max_length=200)
    created_by = models.CharField(max_length=80, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expanded_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"], name="ntf_broadcast_idempotency"
            )
        ]
        indexes = [models.Index(fields=["bot_id", "status"], name="ntf_broadcast_bot_status")]

    def __str__(self) -> str:
        return f"broadcast {self.pk} ({self.status})"


class OutboxMessage(models.Model):
    """One Telegram message to one chat, inserted in the caller's transaction and sent by
    the bot's dispatcher. The lease (``lease_owner``/``lease_until``) claims a pending row;
    ``sending`` means its HTTP request may be in flight (see docs/architecture.md)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"
        BLOCKED = "blocked"  # 403: the user blocked the bot / the bot left the group
        CANCELLED = "cancelled"
        UNCERTAIN = "uncertain"  # the request may have reached Telegram; not resent

    class Priority(models.IntegerChoices):
        TRANSACTIONAL = 0
        BULK = 1  # a broadcast's messages, after the transactional ones

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    bot_id = models.BigIntegerField()
    chat_id = models.BigIntegerField()
    user = models.ForeignKey(
        "accounts.TelegramUser",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    event = models.CharField(max_length=80)
    text = models.TextField()
    options = models.JSONField(default=dict, blank=True)
    paid = models.BooleanField(default=False)
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.TRANSACTIONAL)
    broadcast = models.ForeignKey(
        Broadcast, on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    idempotency_key = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.IntegerField(default=0)
    last_error = models.TextField(blank=True)
    telegram_message_id = models.BigIntegerField(null=True, blank=True)
    not_before = models.DateTimeField(db_default=Now())
    lease_owner = models.UUIDField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(db_default=Now())
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"], name="ntf_outbox_idempotency"
            )
        ]
        indexes = [
            # The claim: a bot's pending rows in sending order (not_before filters).
            models.Index(
                fields=["bot_id", "priority", "id"],
                name="ntf_outbox_due",
                condition=models.Q(status="pending"),
            ),
            # The head of each chat's queue (the claim's "no older unfinished message").
            models.Index(
                fields=["bot_id", "chat_id", "id"],
                name="ntf_outbox_chat_queue",
                condition=models.Q(status__in=["pending", "sending"]),
            ),
            # The reaper: rows whose send may be in flight.
            models.Index(
                fields=["bot_id", "lease_until"],
                name="ntf_outbox_sending",
                condition=models.Q(status="sending"),
            ),
            models.Index(fields=["broadcast", "status"], name="ntf_outbox_broadcast_status"),
            models.Index(fields=["tenant", "chat_id"], name="ntf_outbox_tenant_chat"),
        ]

    def __str__(self) -> str:
        return f"outbox {self.pk} to {self.chat_id} ({self.status})"
