from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.branding.helpers import BACKEND_SETTING, RECORDING, RecordingBackend

OWNER = 7301


@pytest.fixture
def backend(settings) -> Iterator[RecordingBackend]:
    """The recording backend, fresh, as the configured provisioner backend."""
    RECORDING.reset()
    settings.PROVISIONER_BACKEND = BACKEND_SETTING
    yield RECORDING
    RECORDING.reset()


@pytest.fixture
def owner(tenant, user_with_role):
    return user_with_role(tenant, "owner", user_id=OWNER, username="owner")
