from django.urls import path

import config.converters  # noqa: F401  registers signed_int (negative group chat ids)
from xfeed.views import forwarding, kols, mentions

GROUP_X = "groups/<signed_int:chat_id>/x"

urlpatterns = [
    path(
        f"{GROUP_X}/forwarding",
        forwarding.ForwardingListView.as_view(),
        name="x-forwarding-list",
    ),
    path(
        f"{GROUP_X}/forwarding/<str:username>",
        forwarding.ForwardingDetailView.as_view(),
        name="x-forwarding-detail",
    ),
    path(
        f"{GROUP_X}/mention-rules",
        mentions.MentionRuleListView.as_view(),
        name="x-mention-rule-list",
    ),
    path(
        f"{GROUP_X}/mention-rules/<int:rule_id>",
        mentions.MentionRuleDetailView.as_view(),
        name="x-mention-rule-detail",
    ),
    path(f"{GROUP_X}/mentions", mentions.MentionListView.as_view(), name="x-mention-list"),
    # KOLs belong to the community, not to one group.
    path("x/kols", kols.KolListView.as_view(), name="x-kol-list"),
    path("x/kols/report", kols.KolReportView.as_view(), name="x-kol-report"),
    path("x/kols/report.csv", kols.KolReportCsvView.as_view(), name="x-kol-report-csv"),
    path("x/kols/<int:kol_id>", kols.KolDetailView.as_view(), name="x-kol-detail"),
    path("x/kols/<int:kol_id>/posts", kols.KolPostsView.as_view(), name="x-kol-posts"),
]
