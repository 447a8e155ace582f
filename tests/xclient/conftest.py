"""X client fixtures: a sandbox X per test module, on X's own limits unless the module
sets ``X_LIMITS`` (a ``sandbox.x.Limits``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.x import SandboxX


@pytest.fixture(scope="module")
def x_server(request) -> Iterator[SandboxX]:
    sandbox = SandboxX(limits=getattr(request.module, "X_LIMITS", None))
    sandbox.start()
    yield sandbox
    sandbox.stop()
