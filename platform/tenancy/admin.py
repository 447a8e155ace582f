"""Django admin for staff: read-mostly views; lifecycle changes go through the services
(``manage.py tenant``) so they are audited."""

from django.contrib import admin

from tenancy.models import Bot, ChatBinding, Domain, Tenant


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "kind", "status", "plan", "schema_name", "created_at")
    list_filter = ("kind", "status", "plan")
    search_fields = ("slug", "name")
    readonly_fields = ("schema_name", "slug", "status", "created_at")

    def get_queryset(self, request):
        return Tenant.all_objects.all()

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain",)


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    list_display = ("telegram_id", "username", "tenant", "is_active", "created_at")
    exclude = ("token_encrypted",)  # secrets never leave the database in clear or cipher
    readonly_fields = ("telegram_id", "tenant")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ChatBinding)
class ChatBindingAdmin(admin.ModelAdmin):
    list_display = ("chat_id", "title", "tenant", "bot", "bound_at")
    search_fields = ("title", "chat_id")
