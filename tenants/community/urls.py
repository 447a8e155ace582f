from django.urls import path, register_converter

from community import moderation_views, views


class ChatIdConverter:
    """Telegram chat ids of groups are negative (-100...); Django's int converter only
    matches non-negative numbers."""

    regex = r"-?[0-9]{1,20}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(int(value))


register_converter(ChatIdConverter, "signed_int")

urlpatterns = [
    path("groups", views.GroupListView.as_view(), name="group-list"),
    path("groups/link-code", views.GroupLinkCodeView.as_view(), name="group-link-code"),
    path(
        "groups/<signed_int:chat_id>/settings",
        views.GroupSettingsView.as_view(),
        name="group-settings",
    ),
    path(
        "groups/<signed_int:chat_id>/admins/refresh",
        views.GroupAdminsRefreshView.as_view(),
        name="group-admins-refresh",
    ),
    path(
        "groups/<signed_int:chat_id>/moderation",
        moderation_views.GroupModerationView.as_view(),
        name="group-moderation",
    ),
    path(
        "groups/<signed_int:chat_id>/moderation/actions",
        moderation_views.GroupModerationActionsView.as_view(),
        name="group-moderation-actions",
    ),
    path(
        "groups/<signed_int:chat_id>/leaderboard",
        moderation_views.GroupLeaderboardView.as_view(),
        name="group-leaderboard",
    ),
]
