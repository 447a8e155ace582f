"""The Django admin's writes go through the services, so a staff member's change is
checked and audited exactly as the same change through the API or a command. Here, with
the audit trail's ``Actor``, so the apps above history share it and config imports no app."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from config.errors import ServiceError
from history.services import Actor


def staff_actor(request) -> Actor:
    """Who acts in the audit trail: the admin login (a Django user, not a Telegram one)."""
    return Actor.system(f"admin:{request.user.get_username()}"[:64])


class ServiceAdmin(admin.ModelAdmin):
    """Subclasses call services from save_model/delete_model. A service's refusal rolls
    the request back (the admin's views are atomic) and shows as an error message; the
    bulk delete action, which would bypass delete_model, is removed."""

    def changeform_view(self, request, *args, **kwargs):
        try:
            return super().changeform_view(request, *args, **kwargs)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, *args, **kwargs):
        try:
            return super().delete_view(request, *args, **kwargs)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions
