from django.urls import path

import config.converters  # noqa: F401  registers signed_int (negative group chat ids)
from wallet.views import balances, export, statements

# Mounted under /api/v1/wallet/.
urlpatterns = [
    path("me/balances", balances.MyBalancesView.as_view(), name="wallet-my-balances"),
    path("me/statement", statements.MyStatementView.as_view(), name="wallet-my-statement"),
    path(
        "groups/<signed_int:chat_id>/balances",
        balances.GroupBalancesView.as_view(),
        name="wallet-group-balances",
    ),
    path(
        "groups/<signed_int:chat_id>/statement",
        statements.GroupStatementView.as_view(),
        name="wallet-group-statement",
    ),
    path(
        "groups/<signed_int:chat_id>/statement.csv",
        export.GroupStatementCsvView.as_view(),
        name="wallet-group-statement-csv",
    ),
]
