from django.urls import path

import config.converters  # noqa: F401  registers signed_int (negative group chat ids)
from notifications import views

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
]
