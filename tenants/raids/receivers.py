"""raids' answers to what the apps below it announce (connected in ``AppConfig.ready``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.dispatch import receiver

from raids.services.templates import auto_raids_enqueue
from tenancy.models import Tenant
from xfeed.posts import XPost
from xfeed.signals import posts_received


@receiver(posts_received, dispatch_uid="raids.auto_raids_on_posts")
def auto_raids_on_posts(
    sender: Any, *, tenant: Tenant, posts: Sequence[XPost], **kwargs: Any
) -> None:
    """A project account's new post becomes an auto-raid (a durable job per template)."""
    auto_raids_enqueue(tenant=tenant, posts=posts)
