"""Staff views of users and memberships. Profiles come from Telegram and are read-only;
the staff flag and roles change through accounts.services, audited like the API."""

from django.contrib import admin

from accounts.models import Membership, TelegramUser, TenantProfile
from accounts.roles import Role
from accounts.services import membership_demote, membership_set_role, user_set_staff
from history.service_admin import ReadOnlyAdmin, ServiceAdmin, staff_actor

REASON = "django admin"


@admin.register(TelegramUser)
class TelegramUserAdmin(ServiceAdmin):
    list_display = ("telegram_id", "username", "first_name", "is_staff", "last_seen")
    search_fields = ("username", "first_name", "last_name", "telegram_id")
    list_filter = ("is_staff", "is_premium")
    fields = (
        "telegram_id",
        "username",
        "first_name",
        "last_name",
        "language_code",
        "photo_url",
        "is_premium",
        "is_staff",
        "language",
        "notification_preferences",
        "first_seen",
        "last_seen",
    )
    readonly_fields = tuple(f for f in fields if f != "is_staff")

    def has_add_permission(self, request) -> bool:
        return False  # users register themselves through Telegram

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        if "is_staff" in form.changed_data:
            user_set_staff(user=obj, is_staff=obj.is_staff, actor=staff_actor(request))


@admin.register(Membership)
class MembershipAdmin(ServiceAdmin):
    """Roles only; single capabilities are the owner's to grant or revoke (API)."""

    list_display = ("user", "tenant", "role", "granted", "revoked", "updated_at")
    list_filter = ("role",)
    raw_id_fields = ("user", "tenant")
    fields = ("user", "tenant", "role", "granted", "revoked")

    def get_readonly_fields(self, request, obj=None):
        return ("user", "tenant", "granted", "revoked") if obj else ("granted", "revoked")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # set the role to member instead: audited as role.revoked

    def save_model(self, request, obj, form, change) -> None:
        actor = staff_actor(request)
        previous = Membership.objects.get(pk=obj.pk).role if change else None
        if obj.role == Role.MEMBER and previous not in (None, Role.MEMBER):
            membership_demote(
                tenant=obj.tenant, user=obj.user, from_role=previous, actor=actor, reason=REASON
            )
            saved = Membership.objects.get(pk=obj.pk)
        else:
            saved = membership_set_role(
                tenant=obj.tenant, user=obj.user, role=obj.role, actor=actor, reason=REASON
            )
        obj.pk = saved.pk


@admin.register(TenantProfile)
class TenantProfileAdmin(ReadOnlyAdmin):
    """Read-only: what each tenant's bot said about a user (an investigation aid: a brand
    signing names for other people's ids shows up here)."""

    list_display = ("user", "tenant", "username", "first_name", "last_name", "updated_at")
    search_fields = ("username", "first_name", "last_name", "user__telegram_id")
    raw_id_fields = ("user", "tenant")
