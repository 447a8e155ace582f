"""Helpers shared by the tests that drive bot handlers without a running runtime."""

from __future__ import annotations

from botruntime.batching import buffers


def flush_all_strictly() -> int:
    """Apply every write-behind buffer now, as the runtime does after handlers ran; unlike
    ``batching.flush_all`` a failure raises, so a test sees it."""
    return sum(buffer.flush() for buffer in buffers())
