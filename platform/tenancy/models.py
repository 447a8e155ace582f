"""Tenants, their domains, and which bots and chats belong to which tenant (public schema)."""

from __future__ import annotations

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class LiveTenantManager(models.Manager["Tenant"]):
    """Deleted tenants keep their row (their audit trail needs a subject) but have no
    schema: the default manager hides them, so django-tenants' migrate_schemas and every
    lookup skip them."""

    def get_queryset(self):
        return super().get_queryset().exclude(status="deleted")


class Tenant(TenantMixin):
    class Kind(models.TextChoices):
        CLIENT = "client", "Client brand"
        GROUP = "group", "Group community"

    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"
        DELETED = "deleted"

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.GROUP)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    plan = models.CharField(max_length=40, default="free")
    created_at = models.DateTimeField(auto_now_add=True)

    objects: LiveTenantManager = LiveTenantManager()
    all_objects: models.Manager[Tenant] = models.Manager()

    # Schemas are created by tenancy.services.tenant_create from the template, never by
    # django-tenants' per-tenant migration run.
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["id"]
        base_manager_name = "all_objects"

    def __str__(self) -> str:
        return self.slug

    @property
    def is_public(self) -> bool:
        return self.schema_name == "public"


class Domain(DomainMixin):
    class Meta:
        ordering = ["id"]


class Bot(models.Model):
    """A Telegram bot that serves a tenant (the tenant's own bot, or the platform bot
    when ``tenant`` is the public tenant). The token is stored encrypted; deployments that
    only verify third-party signatures may store the bot id without a token.

    ``placement`` says which runtime hosts it: ``pooled`` bots share the runtime shards
    (``runbots --shard I/N``), an ``isolated`` bot runs in a workload of its own that the
    provisioner deploys (``runbots --bot ID``)."""

    class Placement(models.TextChoices):
        POOLED = "pooled"
        ISOLATED = "isolated"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="bots")
    telegram_id = models.BigIntegerField(unique=True)
    username = models.CharField(max_length=64, blank=True)
    token_encrypted = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    placement = models.CharField(max_length=10, choices=Placement.choices, default=Placement.POOLED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"bot {self.telegram_id} ({self.tenant_id})"


class ChatBinding(models.Model):
    """Which tenant a Telegram group belongs to: one tenant per chat."""

    chat_id = models.BigIntegerField(unique=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="chat_bindings")
    bot = models.ForeignKey(Bot, on_delete=models.SET_NULL, null=True, related_name="chats")
    title = models.CharField(max_length=255, blank=True)
    bound_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"chat {self.chat_id} -> {self.tenant_id}"


class SchemaTemplate(models.Model):
    """The DDL that builds a current tenant schema, captured by migrating a scratch schema
    from zero. Keyed by a fingerprint of every migration file, so it is rebuilt whenever
    migrations change."""

    fingerprint = models.CharField(max_length=64, unique=True)
    statements = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"template {self.fingerprint[:12]}"
