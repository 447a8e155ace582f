from django.urls import path

import config.converters  # noqa: F401  registers signed_int (negative group chat ids)
from community import moderation_views, views

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
