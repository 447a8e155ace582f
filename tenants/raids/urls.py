from django.urls import path

from raids.views import rewards, validation

urlpatterns = [
    path("raids/<int:raid_id>/results", rewards.RaidResultsView.as_view(), name="raid-results"),
    path(
        "raids/<int:raid_id>/report.csv",
        rewards.RaidReportCsvView.as_view(),
        name="raid-report-csv",
    ),
    path("me/rewards", rewards.MyRewardsView.as_view(), name="me-rewards"),
    path(
        "raids/<int:raid_id>/validate",
        validation.RaidValidateView.as_view(),
        name="raid-validate",
    ),
]
