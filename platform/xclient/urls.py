from django.urls import path

from xclient import credential_views, link_views, views

urlpatterns = [
    path("x/budget", views.XBudgetView.as_view(), name="x-budget"),
    path(
        "x/credentials",
        credential_views.XCredentialListView.as_view(),
        name="x-credential-list",
    ),
    path("x/credentials/app", credential_views.XAppTokenView.as_view(), name="x-app-token"),
    path(
        "x/credentials/<int:credential_id>",
        credential_views.XCredentialDetailView.as_view(),
        name="x-credential-detail",
    ),
    path("x/connect", credential_views.XConnectView.as_view(), name="x-connect"),
    path("me/x", link_views.MyXLinkView.as_view(), name="me-x"),
    path("me/x/link", link_views.MyXLinkStartView.as_view(), name="me-x-link"),
    path("me/x/verify", link_views.MyXLinkVerifyView.as_view(), name="me-x-verify"),
]
