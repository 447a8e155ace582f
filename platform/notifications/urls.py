from django.urls import path, register_converter
from django.urls.converters import get_converters

from notifications import views


class ChatIdConverter:
    """Group chat ids are negative; the same ``signed_int`` the community URLs use."""

    regex = r"-?[0-9]{1,20}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(int(value))


if "signed_int" not in get_converters():  # registered by community.urls when loaded first
    register_converter(ChatIdConverter, "signed_int")

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
