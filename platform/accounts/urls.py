from django.urls import path

from accounts import audit_views, views

urlpatterns = [
    path("me", views.MeView.as_view(), name="me"),
    path("me/activity", views.MyActivityView.as_view(), name="me-activity"),
    path("admins", views.AdminListView.as_view(), name="admin-list"),
    path(
        "admins/<int:telegram_id>/capabilities",
        views.AdminCapabilitiesView.as_view(),
        name="admin-capabilities",
    ),
    path("audit", audit_views.AuditListView.as_view(), name="audit"),
]
