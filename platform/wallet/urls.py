from django.urls import path

import config.converters  # noqa: F401  registers signed_int (negative group chat ids)
from wallet import stars_views

urlpatterns = [
    path(
        "groups/<signed_int:chat_id>/wallet/stars/topups",
        stars_views.StarsTopUpView.as_view(),
        name="group-stars-topup",
    ),
    path(
        "groups/<signed_int:chat_id>/wallet/stars/deposits/<int:deposit_id>/refund",
        stars_views.StarsDepositRefundView.as_view(),
        name="group-stars-refund",
    ),
]
