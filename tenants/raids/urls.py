from django.urls import path

from raids.views import validation

urlpatterns = [
    path(
        "raids/<int:raid_id>/validate",
        validation.RaidValidateView.as_view(),
        name="raid-validate",
    ),
]
