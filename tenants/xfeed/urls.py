from django.urls import path

import config.converters  # noqa: F401  registers signed_int (negative group chat ids)
from xfeed.views import forwarding, mentions

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
]
