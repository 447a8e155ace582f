"""What accounts announces to the apps above it, which it must not import.

``user_started`` is sent inside the transaction of ``accounts.services.user_start`` (a
person sent /start to a bot), with ``tenant``, ``user``, ``bot_id`` and ``private_chat``.
A receiver's writes commit or roll back with the registration; an exception it raises
fails the /start (sent with ``send``, not ``send_robust``)."""

from __future__ import annotations

from django.dispatch import Signal

user_started = Signal()
