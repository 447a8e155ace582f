from django.urls import path

import config.converters  # noqa: F401  registers signed_int (negative group chat ids)
from wallet import deposit_views, stars_views, withdrawal_views
from wallet.views import balances, export, statements

# Mounted under /api/v1/.
urlpatterns = [
    path("wallet/me/balances", balances.MyBalancesView.as_view(), name="wallet-my-balances"),
    path("wallet/me/statement", statements.MyStatementView.as_view(), name="wallet-my-statement"),
    path(
        "wallet/groups/<signed_int:chat_id>/balances",
        balances.GroupBalancesView.as_view(),
        name="wallet-group-balances",
    ),
    path(
        "wallet/groups/<signed_int:chat_id>/statement",
        statements.GroupStatementView.as_view(),
        name="wallet-group-statement",
    ),
    path(
        "wallet/groups/<signed_int:chat_id>/statement.csv",
        export.GroupStatementCsvView.as_view(),
        name="wallet-group-statement-csv",
    ),
    path(
        "wallet/deposits/webhook/<str:provider>",
        deposit_views.ProviderWebhookView.as_view(),
        name="wallet-deposit-webhook",
    ),
    path(
        "wallet/groups/<signed_int:chat_id>/deposit-instructions",
        deposit_views.DepositInstructionsView.as_view(),
        name="wallet-deposit-instructions",
    ),
    path(
        "wallet/groups/<signed_int:chat_id>/stars/topups",
        stars_views.StarsTopUpView.as_view(),
        name="wallet-stars-topup",
    ),
    path(
        "wallet/groups/<signed_int:chat_id>/stars/deposits/<int:deposit_id>/refund",
        stars_views.StarsDepositRefundView.as_view(),
        name="wallet-stars-refund",
    ),
    path(
        "wallet/withdrawals",
        withdrawal_views.WithdrawalListView.as_view(),
        name="wallet-withdrawal-list",
    ),
    path(
        "wallet/withdrawals/pending",
        withdrawal_views.WithdrawalReviewListView.as_view(),
        name="wallet-withdrawal-pending",
    ),
    path(
        "wallet/withdrawals/<int:withdrawal_id>",
        withdrawal_views.WithdrawalDetailView.as_view(),
        name="wallet-withdrawal-detail",
    ),
    path(
        "wallet/withdrawals/<int:withdrawal_id>/approve",
        withdrawal_views.WithdrawalApproveView.as_view(),
        name="wallet-withdrawal-approve",
    ),
    path(
        "wallet/withdrawals/<int:withdrawal_id>/reject",
        withdrawal_views.WithdrawalRejectView.as_view(),
        name="wallet-withdrawal-reject",
    ),
    path(
        "wallet/withdrawal-policies",
        withdrawal_views.WithdrawalPolicyView.as_view(),
        name="wallet-withdrawal-policies",
    ),
]
