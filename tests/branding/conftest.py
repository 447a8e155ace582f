from __future__ import annotations

import pytest

from branding.texts import brand_texts_forget

OWNER_ID = 5101


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
