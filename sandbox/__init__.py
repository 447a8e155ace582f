"""Loopback emulators of outside services (Telegram Bot API, X API v2) for tests, benchmarks
and the zero-config demo."""
