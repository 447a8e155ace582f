"""A loopback payment provider (a crypto/fiat processor) for tests, benchmarks and the
demo: deposits delivered as signed webhooks, payouts through an idempotent ``/v1`` API,
scripted outcomes and broken deliveries for negative tests. See README.md in this folder."""

from sandbox.provider.errors import ApiError, ControlError
from sandbox.provider.server import SandboxProvider
from sandbox.provider.signing import SIGNATURE_HEADER, SignatureError, verify

__all__ = [
    "SIGNATURE_HEADER",
    "ApiError",
    "ControlError",
    "SandboxProvider",
    "SignatureError",
    "verify",
]
