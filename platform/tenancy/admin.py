"""Django admin for staff. Every change goes through tenancy.services and is audited like
the same change through ``manage.py tenant``; bot tokens are never shown."""

from django.contrib import admin, messages

from config.errors import ServiceError
from history.service_admin import ReadOnlyAdmin, ServiceAdmin, staff_actor
from history.services import Actor
from tenancy.models import Bot, ChatBinding, Domain, Tenant
from tenancy.services import (
    bot_set_active,
    domain_add,
    domain_remove,
    domain_set_primary,
    tenant_resume,
    tenant_suspend,
)


@admin.register(Tenant)
class TenantAdmin(ServiceAdmin):
    list_display = ("slug", "name", "kind", "status", "plan", "schema_name", "created_at")
    list_filter = ("kind", "status", "plan")
    search_fields = ("slug", "name")
    readonly_fields = ("schema_name", "slug", "name", "kind", "status", "plan", "created_at")
    actions = ("suspend", "resume")

    def get_queryset(self, request):
        return Tenant.all_objects.all()

    def has_add_permission(self, request) -> bool:
        return False  # manage.py tenant create: schema, domain and bot in one transaction

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # manage.py tenant delete: asks for the slug

    def save_model(self, request, obj, form, change) -> None:
        pass  # every field is read-only; status changes are the actions below

    def _each(self, request, queryset, change, done: str) -> None:
        for tenant in queryset.exclude(schema_name="public"):
            try:
                change(tenant=tenant, actor=staff_actor(request))
            except ServiceError as exc:
                self.message_user(request, f"{tenant.slug}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{tenant.slug} {done}")

    @admin.action(description="Suspend the selected tenants (their domains answer 403)")
    def suspend(self, request, queryset) -> None:
        def change(*, tenant: Tenant, actor: Actor) -> None:
            tenant_suspend(tenant=tenant, reason="django admin", actor=actor)

        self._each(request, queryset, change, "suspended")

    @admin.action(description="Resume the selected tenants")
    def resume(self, request, queryset) -> None:
        self._each(request, queryset, tenant_resume, "resumed")


@admin.register(Domain)
class DomainAdmin(ServiceAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain",)
    raw_id_fields = ("tenant",)

    def get_readonly_fields(self, request, obj=None):
        return ("domain", "tenant") if obj else ()

    def save_model(self, request, obj, form, change) -> None:
        actor = staff_actor(request)
        if not change:
            obj.pk = domain_add(
                tenant=obj.tenant, domain=obj.domain, is_primary=obj.is_primary, actor=actor
            ).pk
        elif "is_primary" in form.changed_data:
            if not obj.is_primary:
                raise ServiceError(
                    "make another domain of this tenant primary instead", code="primary_domain"
                )
            domain_set_primary(domain=obj, actor=actor)

    def delete_model(self, request, obj) -> None:
        domain_remove(domain=obj, actor=staff_actor(request))


@admin.register(Bot)
class BotAdmin(ServiceAdmin):
    list_display = ("telegram_id", "username", "tenant", "is_active", "created_at")
    # The token never leaves the database, in clear or cipher: it is not even a field here.
    fields = ("telegram_id", "username", "tenant", "is_active", "created_at")
    readonly_fields = ("telegram_id", "username", "tenant", "created_at")

    def has_add_permission(self, request) -> bool:
        return False  # manage.py tenant create --bot-token

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        if "is_active" in form.changed_data:
            bot_set_active(bot=obj, is_active=obj.is_active, actor=staff_actor(request))


@admin.register(ChatBinding)
class ChatBindingAdmin(ReadOnlyAdmin):
    """Read-only: groups are bound and unbound by their admins, in Telegram."""

    list_display = ("chat_id", "title", "tenant", "bot", "bound_at")
    search_fields = ("title", "chat_id")
