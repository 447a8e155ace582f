from django.urls import path

import config.converters  # noqa: F401  registers signed_int (negative group chat ids)
from raids.views import (
    contests,
    fraud,
    giveaways,
    participation,
    raids,
    rewards,
    templates,
    validation,
)

GROUP = "groups/<signed_int:chat_id>"

urlpatterns = [
    # For raid managers (manage_raids).
    path(
        "groups/<signed_int:chat_id>/raids",
        raids.GroupRaidListView.as_view(),
        name="raid-group-list",
    ),
    path("raids/<int:raid_id>", raids.RaidDetailView.as_view(), name="raid-detail"),
    path("raids/<int:raid_id>/cancel", raids.RaidCancelView.as_view(), name="raid-cancel"),
    # For the people who join.
    path("raids", participation.RaidListView.as_view(), name="raid-list"),
    path("raids/<int:raid_id>/join", participation.RaidJoinView.as_view(), name="raid-join"),
    path(
        "raids/<int:raid_id>/progress",
        participation.RaidProgressView.as_view(),
        name="raid-progress",
    ),
    path("me/raids", participation.MyRaidsView.as_view(), name="me-raids"),
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
    # Anti-fraud: the community's review queue and blocklist (not one group's).
    path("raids/flags", fraud.FlagListView.as_view(), name="raid-flag-list"),
    path(
        "raids/flags/<int:flag_id>/dismiss",
        fraud.FlagDismissView.as_view(),
        name="raid-flag-dismiss",
    ),
    path(
        "raids/flags/<int:flag_id>/uphold", fraud.FlagUpholdView.as_view(), name="raid-flag-uphold"
    ),
    path("raids/blocklist", fraud.BlocklistView.as_view(), name="raid-blocklist"),
    path(
        "raids/blocklist/<int:blocked_id>",
        fraud.BlockedDetailView.as_view(),
        name="raid-blocklist-detail",
    ),
    path(
        f"{GROUP}/raid-templates",
        templates.TemplateListView.as_view(),
        name="raid-template-list",
    ),
    path(
        f"{GROUP}/raid-templates/<int:template_id>",
        templates.TemplateDetailView.as_view(),
        name="raid-template-detail",
    ),
]
