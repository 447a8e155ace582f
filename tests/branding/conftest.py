from __future__ import annotations

from collections.abc import Iterator

import pytest

from branding.texts import brand_texts_forget
from tests.branding.helpers import BACKEND_SETTING, RECORDING, RecordingBackend

OWNER_ID = 5101
BOT_OWNER = 7301


@pytest.fixture(autouse=True)
def _no_cached_texts():
    """Schemas are rolled back after each test: no brand state survives in the cache."""
    brand_texts_forget()
    yield
    brand_texts_forget()


@pytest.fixture
def owner(tenant, user_with_role, client_for):
    """An API client of the tenant's owner (who holds manage_bots)."""
    user_with_role(tenant, "owner", user_id=OWNER_ID, username="brand_owner")
    return client_for(tenant, user_id=OWNER_ID, username="brand_owner")


@pytest.fixture
def backend(settings) -> Iterator[RecordingBackend]:
    """The recording backend, fresh, as the configured provisioner backend."""
    RECORDING.reset()
    settings.PROVISIONER_BACKEND = BACKEND_SETTING
    yield RECORDING
    RECORDING.reset()


@pytest.fixture
def bot_owner(tenant, user_with_role):
    """The tenant's owner (who holds manage_bots), as a user."""
    return user_with_role(tenant, "owner", user_id=BOT_OWNER, username="owner")
