from django.urls import path

import config.converters  # noqa: F401  registers signed_int (negative group chat ids)
from raids.views import contests, giveaways

GROUP = "groups/<signed_int:chat_id>"

urlpatterns = [
    path(f"{GROUP}/giveaways", giveaways.GiveawayListView.as_view(), name="raids-giveaway-list"),
    path(
        f"{GROUP}/giveaways/<int:giveaway_id>",
        giveaways.GiveawayDetailView.as_view(),
        name="raids-giveaway-detail",
    ),
    path(
        f"{GROUP}/giveaways/<int:giveaway_id>/enter",
        giveaways.GiveawayEnterView.as_view(),
        name="raids-giveaway-enter",
    ),
    path(
        f"{GROUP}/giveaways/<int:giveaway_id>/cancel",
        giveaways.GiveawayCancelView.as_view(),
        name="raids-giveaway-cancel",
    ),
    path(
        f"{GROUP}/giveaways/<int:giveaway_id>/draw",
        giveaways.GiveawayDrawView.as_view(),
        name="raids-giveaway-draw",
    ),
    path(f"{GROUP}/contests", contests.ContestListView.as_view(), name="raids-contest-list"),
    path(
        f"{GROUP}/contests/<int:contest_id>",
        contests.ContestDetailView.as_view(),
        name="raids-contest-detail",
    ),
    path(
        f"{GROUP}/contests/<int:contest_id>/cancel",
        contests.ContestCancelView.as_view(),
        name="raids-contest-cancel",
    ),
]
