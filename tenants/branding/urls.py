from django.urls import path

from branding.views import bots, brand, logo, texts

urlpatterns = [
    path("brand", brand.BrandView.as_view(), name="brand"),
    path("brand/apply", brand.BrandApplyView.as_view(), name="brand-apply"),
    path("brand/colors", brand.BrandColorsView.as_view(), name="brand-colors"),
    path("brand/theme", brand.BrandThemeView.as_view(), name="brand-theme"),
    path("brand/logo", logo.BrandLogoView.as_view(), name="brand-logo"),
    path("brand/logo/<int:size>", logo.BrandLogoFileView.as_view(), name="brand-logo-file"),
    path("brand/texts", texts.TextListView.as_view(), name="brand-text-list"),
    path(
        "brand/texts/<str:kind>/<str:language>/<str:key>",
        texts.TextDetailView.as_view(),
        name="brand-text-detail",
    ),
    path("brand/preview", texts.PreviewView.as_view(), name="brand-preview"),
    # Custom bots (the bot generator)
    path("bot-kinds", bots.BotKindListView.as_view(), name="bot-kind-list"),
    path("bots", bots.BotListView.as_view(), name="bot-list"),
    path("bots/<int:bot_id>", bots.BotDetailView.as_view(), name="bot-detail"),
    path("bots/<int:bot_id>/deploy", bots.BotDeployView.as_view(), name="bot-deploy"),
    path("bots/<int:bot_id>/pause", bots.BotPauseView.as_view(), name="bot-pause"),
    path("bots/<int:bot_id>/token", bots.BotTokenView.as_view(), name="bot-token"),
]
