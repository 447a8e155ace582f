from django.urls import path

from accounts import views

urlpatterns = [
    path("me", views.MeView.as_view(), name="me"),
    path("me/activity", views.MyActivityView.as_view(), name="me-activity"),
    path("admins", views.AdminListView.as_view(), name="admin-list"),
    path(
        "admins/<int:telegram_id>/capabilities",
        views.AdminCapabilitiesView.as_view(),
        name="admin-capabilities",
    ),
]
