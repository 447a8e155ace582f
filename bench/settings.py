"""Project settings plus what the api_me benchmark serves beside the product: the
baseline views of bench/http_app.py and the conventional peer stack of bench/peer_me.py.
Production URLs, middleware and apps are untouched; this module is used only by bench/."""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS, MIDDLEWARE, SHARED_APPS

# The peer authenticates with DRF's Token model: its table exists only in bench databases.
SHARED_APPS = [*SHARED_APPS, "rest_framework.authtoken"]
INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework.authtoken"]

ROOT_URLCONF = "bench.urls"
PUBLIC_SCHEMA_URLCONF = "bench.urls"
# First: answers the bare view, and hands /peer/ requests to the peer's own middleware
# stack (PEER_MIDDLEWARE); everything else goes on through the product's stack.
MIDDLEWARE = ["bench.http_app.bench_front", *MIDDLEWARE]

# The peer's stack as a django-tenants + DRF project ships it: django-tenants' own
# middleware and Django's stock session, auth and messages middleware (the same list as
# the product's, without the product's replacements).
PEER_MIDDLEWARE = [
    "django_tenants.middleware.main.TenantMainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
