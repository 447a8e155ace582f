"""The page X sends a person back to after they approved connecting their X account:
the flow its ``state`` names finishes, and the page says which account joined which
community (or why not). Not an API call: a browser lands here, without the Mini App's
credentials; the unguessable, single-use state is what authorises it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from config.errors import ServiceError
from xclient.credentials import credential_connect_callback


def connect_callback(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    if "error" in request.GET:  # the person declined on X
        context = {"ok": False, "detail": "X says the request was not approved."}
        return render(request, "xclient/connect_done.html", context, status=400)
    try:
        credential = credential_connect_callback(callback_url=request.build_absolute_uri())
    except ServiceError as exc:
        context = {"ok": False, "detail": exc.message}
        return render(request, "xclient/connect_done.html", context, status=exc.status)
    context = {"ok": True, "username": credential.username, "community": credential.tenant.name}
    return render(request, "xclient/connect_done.html", context)
