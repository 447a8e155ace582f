from django.urls import path

import config.converters  # noqa: F401  registers signed_int (negative group chat ids)
from raids.views import participation, raids

urlpatterns = [
    # For raid managers (manage_raids).
    path(
        "groups/<signed_int:chat_id>/raids",
        raids.GroupRaidListView.as_view(),
        name="raid-group-list",
    ),
    path("raids/<int:raid_id>", raids.RaidDetailView.as_view(), name="raid-detail"),
    path("raids/<int:raid_id>/cancel", raids.RaidCancelView.as_view(), name="raid-cancel"),
    # For the people who join.
    path("raids", participation.RaidListView.as_view(), name="raid-list"),
    path("raids/<int:raid_id>/join", participation.RaidJoinView.as_view(), name="raid-join"),
    path(
        "raids/<int:raid_id>/progress",
        participation.RaidProgressView.as_view(),
        name="raid-progress",
    ),
    path("me/raids", participation.MyRaidsView.as_view(), name="me-raids"),
]
