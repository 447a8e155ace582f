"""``PROVISIONER_BACKEND`` picks the backend: the built-in names, ``module:factory``,
and a clear error for anything that cannot be loaded."""

from __future__ import annotations

import pytest

from provisioner.backends import BUILT_IN, BackendUnavailable, _factory, backend
from tests.branding.helpers import BACKEND_SETTING, RECORDING


def test_module_factory_names_a_backend(settings):
    settings.PROVISIONER_BACKEND = BACKEND_SETTING
    assert backend() is RECORDING


def test_the_built_in_names_are_the_provisioners_own_backends():
    assert BUILT_IN == {
        "local": "provisioner.local:local_backend",
        "kubernetes": "provisioner.cluster:kubernetes_backend",
    }
    # Each resolves to a factory (not called: the local one starts its supervisor).
    assert all(callable(_factory(name)) for name in BUILT_IN)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("nonsense", "use local, kubernetes or module:factory"),
        ("provisioner.nowhere:make", "No module named 'provisioner.nowhere'"),
        ("provisioner.spec:Nothing", "provisioner.spec:Nothing is not a function"),
    ],
)
def test_a_backend_that_cannot_be_loaded_is_a_clear_error(settings, value, says):
    settings.PROVISIONER_BACKEND = value
    with pytest.raises(BackendUnavailable, match=says):
        backend()
