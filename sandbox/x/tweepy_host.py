"""Test-only: tweepy pointed at a sandbox X. tweepy hard-codes https://api.twitter.com (and
twitter.com for OAuth 2.0 consent) and has no host option; these subclasses swap the
requests session for one that rewrites X's hosts to the sandbox's base URL and leave
everything else to tweepy. The platform's production adapter is a separate thing."""

from __future__ import annotations

from typing import Any

import requests
import tweepy

X_HOSTS = ("https://api.twitter.com", "https://api.x.com", "https://twitter.com", "https://x.com")


def rewrite(url: str, base_url: str) -> str:
    for host in X_HOSTS:
        if url.startswith(host + "/"):
            return base_url + url[len(host) :]
    return url


class SandboxSession(requests.Session):
    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        request.url = rewrite(str(request.url), self.base_url)
        return super().send(request, **kwargs)


class Client(tweepy.Client):
    def __init__(self, base_url: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session = SandboxSession(base_url)


class StreamingClient(tweepy.StreamingClient):
    def __init__(self, base_url: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session = SandboxSession(base_url)


class OAuth2UserHandler(tweepy.OAuth2UserHandler):
    """The PKCE flow; ``get_authorization_url()`` answers the sandbox's consent URL."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url

    def get_authorization_url(self) -> str:
        return rewrite(super().get_authorization_url(), self.base_url)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        # After requests-oauthlib's https check, which the sandbox's http:// would fail.
        request.url = rewrite(str(request.url), self.base_url)
        return super().send(request, **kwargs)
