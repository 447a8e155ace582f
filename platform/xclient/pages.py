"""The page X sends a person back to after they approved on X: a community connecting
an X account (``xclient.credentials``), or a Telegram user linking theirs
(``xclient.links``), by the kind of the flow its ``state`` names; the page says which
account joined what (or why not). Not an API call: a browser lands here, without the
Mini App's credentials; the unguessable, single-use state is what authorises it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from config.errors import ServiceError
from xclient.credentials import credential_connect_callback, state_of
from xclient.links import link_oauth_callback
from xclient.selectors import connect_kind


def connect_callback(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    if "error" in request.GET:  # the person declined on X
        context = {"ok": False, "detail": "X says the request was not approved."}
        return render(request, "xclient/connect_done.html", context, status=400)
    url = request.build_absolute_uri()
    try:
        if connect_kind(state=state_of(url)) == "link":
            link = link_oauth_callback(callback_url=url)
            context = {"ok": True, "username": link.username, "linked": True}
        else:
            credential = credential_connect_callback(callback_url=url)
            context = {
                "ok": True,
                "username": credential.username,
                "community": credential.tenant.name,
            }
    except ServiceError as exc:
        context = {"ok": False, "detail": exc.message}
        return render(request, "xclient/connect_done.html", context, status=exc.status)
    return render(request, "xclient/connect_done.html", context)
