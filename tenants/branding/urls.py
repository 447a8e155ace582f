from django.urls import path

from branding.views import brand, logo, texts

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
]
