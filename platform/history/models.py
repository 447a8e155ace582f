"""The audit log: append-only rows, hash-chained per tenant (public schema)."""

from __future__ import annotations

from django.db import models


class AppendOnlyQuerySet(models.QuerySet):
    """Rows get in through ``history.services.record`` only (it links them into the
    chain); the ORM can read them but not write them."""

    def update(self, **kwargs):
        raise TypeError("history entries are append-only")

    def bulk_create(self, *args, **kwargs):
        raise TypeError("history entries are written by history.services.record")

    def bulk_update(self, *args, **kwargs):
        raise TypeError("history entries are append-only")

    def delete(self):
        raise TypeError("history entries are append-only")


class Entry(models.Model):
    class ActorType(models.TextChoices):
        USER = "user"
        BOT = "bot"
        SYSTEM = "system"

    # Null for platform-level entries; kept (not cascaded) when a tenant is deleted.
    tenant = models.ForeignKey(
        "tenancy.Tenant", null=True, on_delete=models.DO_NOTHING, db_constraint=False
    )
    chain = models.CharField(max_length=40)
    # seq, prev_hash and hash are null until the sealer links the entry into its chain
    # (history.services.chain_seal), shortly after the recording transaction commits.
    seq = models.BigIntegerField(null=True)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=50, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict)
    ip = models.GenericIPAddressField(null=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64, null=True)  # noqa: DJ001  null: unsealed
    hash = models.CharField(max_length=64, null=True)  # noqa: DJ001

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="history_chain_seq")]
        indexes = [
            models.Index(
                fields=["chain", "id"],
                name="history_unsealed",
                condition=models.Q(seq__isnull=True),
            ),
            models.Index(fields=["tenant", "action"]),
            models.Index(fields=["tenant", "actor_type", "actor_id"]),
            models.Index(fields=["tenant", "target_type", "target_id"]),
            models.Index(fields=["tenant", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.chain}#{self.seq} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("history entries are append-only")
        raise TypeError("history entries are written by history.services.record")

    def delete(self, *args, **kwargs):
        raise TypeError("history entries are append-only")


class ChainHead(models.Model):
    """The tip of one tenant's chain. The sealer locks this row, so a chain grows in
    order. ``anchor_*`` is the last archived row: verification resumes from it."""

    chain = models.CharField(max_length=40, unique=True)
    seq = models.BigIntegerField(default=0)
    prev_hash = models.CharField(max_length=64, default="0" * 64)
    last_hash = models.CharField(max_length=64, default="0" * 64)
    anchor_seq = models.BigIntegerField(default=0)
    anchor_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"{self.chain}@{self.seq}"
