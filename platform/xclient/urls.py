from django.urls import path

from xclient import views

urlpatterns = [
    path("x/budget", views.XBudgetView.as_view(), name="x-budget"),
]
