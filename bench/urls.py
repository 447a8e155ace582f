"""The project's URLs plus the routed baseline view; used only by bench/settings.py."""

from django.urls import path

from bench.http_app import bare_view
from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [*project_urlpatterns, path("bench/routed", bare_view)]
