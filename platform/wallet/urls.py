from django.urls import path

import config.converters  # noqa: F401  registers signed_int (negative group chat ids)
from wallet.views import balances, deposits, export, stars, statements, withdrawals

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
        deposits.ProviderWebhookView.as_view(),
        name="wallet-deposit-webhook",
    ),
    path(
        "wallet/groups/<signed_int:chat_id>/deposit-instructions",
        deposits.DepositInstructionsView.as_view(),
        name="wallet-deposit-instructions",
    ),
    path(
        "wallet/groups/<signed_int:chat_id>/stars/topups",
        stars.StarsTopUpView.as_view(),
        name="wallet-stars-topup",
    ),
    path(
        "wallet/groups/<signed_int:chat_id>/stars/deposits/<int:deposit_id>/refund",
        stars.StarsDepositRefundView.as_view(),
        name="wallet-stars-refund",
    ),
    path(
        "wallet/withdrawals",
        withdrawals.WithdrawalListView.as_view(),
        name="wallet-withdrawal-list",
    ),
    path(
        "wallet/withdrawals/pending",
        withdrawals.WithdrawalReviewListView.as_view(),
        name="wallet-withdrawal-pending",
    ),
    path(
        "wallet/withdrawals/<int:withdrawal_id>",
        withdrawals.WithdrawalDetailView.as_view(),
        name="wallet-withdrawal-detail",
    ),
    path(
        "wallet/withdrawals/<int:withdrawal_id>/approve",
        withdrawals.WithdrawalApproveView.as_view(),
        name="wallet-withdrawal-approve",
    ),
    path(
        "wallet/withdrawals/<int:withdrawal_id>/reject",
        withdrawals.WithdrawalRejectView.as_view(),
        name="wallet-withdrawal-reject",
    ),
    path(
        "wallet/withdrawal-policies",
        withdrawals.WithdrawalPolicyView.as_view(),
        name="wallet-withdrawal-policies",
    ),
]
