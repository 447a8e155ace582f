"""The database's last line behind "credited once per provider event": two credited rows
of one (provider, event id) cannot exist, whatever the code above does under concurrency;
duplicates and refusals of it are recorded freely."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from wallet.models import ProviderEvent


def test_one_event_id_is_credited_at_most_once_per_provider(db):
    def row(outcome: str, provider: str = "sandbox") -> ProviderEvent:
        return ProviderEvent.objects.create(
            provider=provider, event_id="evt_1", outcome=outcome, body_sha256="0" * 64
        )

    row("credited")
    row("duplicate")
    row("refused")
    row("credited", provider="other")  # another provider's ids are its own
    with pytest.raises(IntegrityError), transaction.atomic():
        row("credited")
    assert ProviderEvent.objects.filter(outcome="credited").count() == 2
