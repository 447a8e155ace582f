from django.urls import path

from history import views

urlpatterns = [
    path("audit", views.AuditListView.as_view(), name="audit"),
]
