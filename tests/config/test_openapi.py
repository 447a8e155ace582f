import io
import re

import pytest
from django.core.management import call_command
from django.urls import get_resolver

pytestmark = pytest.mark.django_db


def test_schema_generates_without_warnings_and_validates():
    out = io.StringIO()
    # --fail-on-warn turns every unresolved serializer, name clash or missing
    # authenticator description into a failure.
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", stdout=out
    )
    assert '"telegramInitData"' in out.getvalue()


def test_every_api_route_is_documented(client):
    response = client.get("/api/schema/?format=json", HTTP_HOST="testserver")
    assert response.status_code == 200
    documented = set(response.json()["paths"])

    def routes(resolver, prefix=""):
        for pattern in resolver.url_patterns:
            route = prefix + str(pattern.pattern)
            if hasattr(pattern, "url_patterns"):
                yield from routes(pattern, route)
            elif route.startswith("api/v1/"):
                yield "/" + route

    expected = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r) for r in routes(get_resolver())}
    assert expected, "no API routes found"
    assert expected <= documented, f"undocumented: {sorted(expected - documented)}"


def test_docs_page_is_served(client):
    response = client.get("/api/docs/", HTTP_HOST="testserver")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
