from django.urls import path

from xfeed.views import kols

# Mounted under /api/v1/.
urlpatterns = [
    path("x/kols", kols.KolListView.as_view(), name="x-kol-list"),
    path("x/kols/report", kols.KolReportView.as_view(), name="x-kol-report"),
    path("x/kols/report.csv", kols.KolReportCsvView.as_view(), name="x-kol-report-csv"),
    path("x/kols/<int:kol_id>", kols.KolDetailView.as_view(), name="x-kol-detail"),
    path("x/kols/<int:kol_id>/posts", kols.KolPostsView.as_view(), name="x-kol-posts"),
]
