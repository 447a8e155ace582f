from django.urls import path

import config.converters  # noqa: F401  registers signed_int (negative group chat ids)
from community.views import groups, leaderboard, moderation

urlpatterns = [
    path("groups", groups.GroupListView.as_view(), name="group-list"),
    path("groups/link-code", groups.GroupLinkCodeView.as_view(), name="group-link-code"),
    path(
        "groups/<signed_int:chat_id>/settings",
        groups.GroupSettingsView.as_view(),
        name="group-settings",
    ),
    path(
        "groups/<signed_int:chat_id>/admins/refresh",
        groups.GroupAdminsRefreshView.as_view(),
        name="group-admins-refresh",
    ),
    path(
        "groups/<signed_int:chat_id>/moderation",
        moderation.GroupModerationView.as_view(),
        name="group-moderation",
    ),
    path(
        "groups/<signed_int:chat_id>/moderation/actions",
        moderation.GroupModerationActionsView.as_view(),
        name="group-moderation-actions",
    ),
    path(
        "groups/<signed_int:chat_id>/leaderboard",
        leaderboard.GroupLeaderboardView.as_view(),
        name="group-leaderboard",
    ),
]
