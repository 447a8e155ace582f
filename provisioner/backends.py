"""Which backend runs the bots: ``settings.PROVISIONER_BACKEND`` names it.

``local`` (supervised processes on this machine, the default) and ``kubernetes`` (the
official client) are the provisioner's own; any other value is ``module:factory``, a
function returning a ``Backend`` (a test's recording backend, an operator's own). The
backends are imported when first asked for, so a deployment only loads the client
libraries of the one it uses."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import cast

from django.conf import settings

from provisioner.spec import Backend

BUILT_IN = {
    "local": "provisioner.local:local_backend",
    "kubernetes": "provisioner.cluster:kubernetes_backend",
}


class BackendUnavailable(RuntimeError):
    """The configured backend cannot be loaded (a typo, a missing module or client)."""


def _factory(name: str) -> Callable[[], Backend]:
    target = BUILT_IN.get(name, name)
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise BackendUnavailable(
            f"PROVISIONER_BACKEND={name!r}: use local, kubernetes or module:factory"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendUnavailable(f"PROVISIONER_BACKEND={name!r}: {exc}") from exc
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise BackendUnavailable(f"PROVISIONER_BACKEND={name!r}: {target} is not a function")
    return cast(Callable[[], Backend], factory)


def backend() -> Backend:
    """The configured backend (each factory decides whether it returns a shared one)."""
    return _factory(str(settings.PROVISIONER_BACKEND))()
