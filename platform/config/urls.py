"""URLs, the same on the public domain and on tenant domains: every API view works on
the request's tenant (the public tenant on the platform's own domain)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from tenancy.views import home
from xclient.pages import connect_callback

admin.site.site_header = admin.site.site_title = "Bragabot"
admin.site.index_title = "Platform administration"

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("community.urls")),
    path("", include("notifications.urls")),
    path("", include("wallet.urls")),
    path("", include("xclient.urls")),
    path("", include("xfeed.urls")),
    path("", include("raids.urls")),
    path("", include("branding.urls")),
]

urlpatterns = [
    path("", home, name="home"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("x/callback", connect_callback, name="x-connect-callback"),  # X's OAuth redirect
    path("admin/", admin.site.urls),
]
