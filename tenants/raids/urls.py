from django.urls import path

from raids.views import fraud

urlpatterns = [
    # Anti-fraud: the community's review queue and blocklist (not one group's).
    path("raids/flags", fraud.FlagListView.as_view(), name="raid-flag-list"),
    path(
        "raids/flags/<int:flag_id>/dismiss",
        fraud.FlagDismissView.as_view(),
        name="raid-flag-dismiss",
    ),
    path(
        "raids/flags/<int:flag_id>/uphold", fraud.FlagUpholdView.as_view(), name="raid-flag-uphold"
    ),
    path("raids/blocklist", fraud.BlocklistView.as_view(), name="raid-blocklist"),
    path(
        "raids/blocklist/<int:blocked_id>",
        fraud.BlockedDetailView.as_view(),
        name="raid-blocklist-detail",
    ),
]
