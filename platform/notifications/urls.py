from django.urls import path

import config.converters  # noqa: F401  registers signed_int (negative group chat ids)
from notifications import broadcast_views, views

urlpatterns = [
    path(
        "notifications/subscriptions",
        views.MySubscriptionsView.as_view(),
        name="notification-subscriptions",
    ),
    path(
        "groups/<signed_int:chat_id>/subscriptions",
        views.GroupSubscriptionsView.as_view(),
        name="group-subscriptions",
    ),
    path(
        "notifications/settings",
        views.NotificationSettingsView.as_view(),
        name="notification-settings",
    ),
    path("broadcasts", broadcast_views.BroadcastListView.as_view(), name="broadcast-list"),
    path(
        "broadcasts/<int:bulk_id>",
        broadcast_views.BroadcastDetailView.as_view(),
        name="broadcast-detail",
    ),
    path(
        "broadcasts/<int:bulk_id>/cancel",
        broadcast_views.BroadcastCancelView.as_view(),
        name="broadcast-cancel",
    ),
]
