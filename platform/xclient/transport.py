"""tweepy bound to a configurable X host (``X_API_BASE``: X itself, or the sandbox X).

tweepy has no host option: it writes ``https://api.twitter.com`` into every URL it
requests (and ``https://twitter.com`` into the OAuth 2.0 consent URL). Each client here
gets a requests transport adapter mounted for X's hosts that moves a request to
``X_API_BASE`` right before it is sent, after tweepy and requests-oauthlib built and
checked it (the latter insists on https, which a loopback sandbox is not). Against X
itself nothing is mounted."""

from __future__ import annotations

from typing import Any, TypeVar

import requests
import tweepy
from django.conf import settings
from requests.adapters import HTTPAdapter

S = TypeVar("S", bound=tweepy.StreamingClient)
X_HOSTS = ("https://api.twitter.com", "https://api.x.com", "https://twitter.com", "https://x.com")


def rewrite(url: str, base_url: str) -> str:
    """``url`` on ``base_url`` when it is one of X's; other URLs unchanged."""
    for host in X_HOSTS:
        if url == host or url.startswith(host + "/"):
            return base_url + url[len(host) :]
    return url


class HostAdapter(HTTPAdapter):
    """Sends what was addressed to X to ``base_url`` instead."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        request.url = rewrite(str(request.url), self.base_url)
        return super().send(request, *args, **kwargs)


def _base(base_url: str | None) -> str:
    return (base_url or settings.X_API_BASE).rstrip("/")


def bind(session: requests.Session, base_url: str | None = None) -> requests.Session:
    """Point ``session``'s requests to X at ``base_url`` (default ``X_API_BASE``)."""
    base = _base(base_url)
    if base not in X_HOSTS:
        adapter = HostAdapter(base)
        for host in X_HOSTS:
            session.mount(host + "/", adapter)
    return session


def x_client(*, base_url: str | None = None, **kwargs: Any) -> tweepy.Client:
    """``tweepy.Client(**kwargs)`` (``bearer_token=`` for app-only reads, an OAuth 2.0
    user access token as ``bearer_token`` for owned reads) on ``base_url``."""
    client = tweepy.Client(**kwargs)
    bind(client.session, base_url)
    return client


def x_streaming_client(
    bearer_token: str, *, client_class: type[S], base_url: str | None = None, **kwargs: Any
) -> S:
    """``client_class(bearer_token, **kwargs)`` (a ``tweepy.StreamingClient`` whose
    ``on_*`` methods take what arrives) on ``base_url``."""
    client = client_class(bearer_token, **kwargs)
    bind(client.session, base_url)
    return client


class OAuth2UserHandler(tweepy.OAuth2UserHandler):
    """tweepy's OAuth 2.0 PKCE flow on a configurable host: the consent URL it hands out
    and the token requests it makes go to ``base_url``."""

    def __init__(self, *, base_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = _base(base_url)
        bind(self, self.base_url)

    def get_authorization_url(self) -> str:
        url: str = super().get_authorization_url()
        return rewrite(url, self.base_url) if self.base_url not in X_HOSTS else url

    @property
    def consent_state(self) -> str:
        """The ``state`` of the consent URL handed out last."""
        return str(self._state)

    @property
    def consent_verifier(self) -> str:
        """The PKCE code verifier of the consent URL handed out last."""
        return str(self._client.code_verifier)

    def resume(self, *, state: str, code_verifier: str) -> None:
        """Continue a flow another handler (another request) started: ``fetch_token``
        then checks the callback's ``state`` and sends this verifier."""
        self._state = state
        self._client.code_verifier = code_verifier
