from django.urls import path

from branding.views import bots

urlpatterns = [
    # Custom bots (bot generator)
    path("bot-kinds", bots.BotKindListView.as_view(), name="bot-kind-list"),
    path("bots", bots.BotListView.as_view(), name="bot-list"),
    path("bots/<int:bot_id>", bots.BotDetailView.as_view(), name="bot-detail"),
    path("bots/<int:bot_id>/deploy", bots.BotDeployView.as_view(), name="bot-deploy"),
    path("bots/<int:bot_id>/pause", bots.BotPauseView.as_view(), name="bot-pause"),
    path("bots/<int:bot_id>/token", bots.BotTokenView.as_view(), name="bot-token"),
]
