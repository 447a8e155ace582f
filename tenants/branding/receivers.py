"""A change to a brand, its texts or its custom bots forgets the schema's cached texts
(``texts.TEXTS``), whoever made it (these services, the bot generator, the admin)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from branding.models import Brand, CustomBot, MessageText
from branding.texts import brand_texts_forget_current


@receiver(post_save, sender=Brand)
@receiver(post_delete, sender=Brand)
@receiver(post_save, sender=MessageText)
@receiver(post_delete, sender=MessageText)
@receiver(post_save, sender=CustomBot)
@receiver(post_delete, sender=CustomBot)
def forget_texts(sender: type, **kwargs: Any) -> None:
    brand_texts_forget_current()
