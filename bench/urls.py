"""The project's URLs plus the routed baseline view and the peer's /me; used only by
bench/settings.py. The peer's route comes first so resolving it costs no extra misses."""

from django.urls import path

from bench.http_app import bare_view
from bench.peer_me import PEER_ME_PATH, PeerMeView
from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    path(PEER_ME_PATH.lstrip("/"), PeerMeView.as_view()),
    *project_urlpatterns,
    path("bench/routed", bare_view),
]
