"""What the X feed announces to the apps above it, which it must not import.

``posts_received`` is sent inside the transaction of ``xfeed.services.posts_ingest``
with ``tenant`` and ``posts`` (the ``XPost``s new to the community and recent enough to
forward), in the community's schema: raids turn a project account's new post into an
auto-raid. A receiver's writes commit or roll back with the ingest; it must not call X or
Telegram there (enqueue a durable job instead)."""

from __future__ import annotations

from django.dispatch import Signal

posts_received = Signal()
