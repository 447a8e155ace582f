"""The Django admin's writes go through the services, so a staff member's change is
checked and audited exactly as the same change through the API or a command; what no
service changes is read-only there. Here, with the audit trail's ``Actor``, so the apps
above history share it and config imports no app."""

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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only their own flows write (Telegram's updates, a bot's word): staff may
    look, never add, change or delete."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
