"""The state after 0002: a typical additive change (a column with a default, an index)."""

from __future__ import annotations

from django.db import models


class Widget(models.Model):
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    score = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["score"], name="benchapp_widget_score")]

    def __str__(self) -> str:
        return self.name
