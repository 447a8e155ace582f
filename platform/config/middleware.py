"""Middleware the JSON API does without.

The API authenticates every request with Telegram initData (``Authorization: tma``), never
with a session cookie: sessions, Django's user and flash messages serve the admin site
only. These subclasses skip their work for paths under ``/api/`` and behave exactly as
Django's own everywhere else (they stay subclasses, so the admin's checks still find
them). CSRF is left alone: DRF's views are exempt from it already.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.middleware import AuthenticationMiddleware as _Authentication
from django.contrib.messages.middleware import MessageMiddleware as _Messages
from django.contrib.sessions.middleware import SessionMiddleware as _Sessions

API_PREFIX = "/api/"


class _SkippedForApi:
    get_response: Any

    def __call__(self, request: Any) -> Any:
        # Sync or async alike: get_response returns what the next middleware returns.
        if request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class SessionMiddleware(_SkippedForApi, _Sessions):
    pass


class AuthenticationMiddleware(_SkippedForApi, _Authentication):
    pass


class MessageMiddleware(_SkippedForApi, _Messages):
    pass
