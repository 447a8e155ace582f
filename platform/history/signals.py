"""What history announces to the apps above it, which it must not import.

``anchors_published`` is sent inside the transaction that records ``history.anchored``,
with ``file`` (the anchor file's name), ``count`` (chain heads), ``digest`` (sha256 of the
lines appended) and ``published_at``. A receiver returns how many messages it queued
(notifications: one per platform staff user); history warns when nobody was told."""

from __future__ import annotations

from django.dispatch import Signal

anchors_published = Signal()
