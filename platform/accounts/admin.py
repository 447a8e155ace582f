from django.contrib import admin

from accounts.models import Membership, TelegramUser


@admin.register(TelegramUser)
class TelegramUserAdmin(admin.ModelAdmin):
    list_display = ("telegram_id", "username", "first_name", "is_staff", "last_seen")
    search_fields = ("username", "first_name", "last_name", "telegram_id")
    list_filter = ("is_staff", "is_premium")
    readonly_fields = ("telegram_id", "first_seen", "last_seen")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant", "role", "granted", "revoked", "updated_at")
    list_filter = ("role",)
    raw_id_fields = ("user", "tenant")
