"""A URLconf for testing the API walker in tests/accounts/helpers.py."""

from django.http import HttpResponse
from django.urls import include, path
from rest_framework import viewsets
from rest_framework.views import APIView


class ThingView(APIView):
    def get(self, request, thing_id: int):
        return HttpResponse()

    def delete(self, request, thing_id: int):
        return HttpResponse()


class WidgetViewSet(viewsets.ViewSet):
    def list(self, request):
        return HttpResponse()

    def create(self, request):
        return HttpResponse()


def plain(request):
    return HttpResponse()


nested = ([path("things/<int:thing_id>", ThingView.as_view(), name="thing")], "inner")

urlpatterns = [
    path("api/v1/", include(nested)),
    path(
        "api/v1/widgets",
        WidgetViewSet.as_view({"get": "list", "post": "create"}),
        name="widget-list",
    ),
    path("api/v1/plain", plain),
    path("api/schema/", plain, name="schema"),
    path("elsewhere", plain, name="elsewhere"),
]
