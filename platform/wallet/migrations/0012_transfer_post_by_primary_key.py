"""``wallet_transfer_post`` locks and updates the two accounts with one UPDATE each, by
primary key, in id order. The single UPDATE it replaces joined the accounts to a locking
CTE, and its cached generic plan reached them through the owner index: every transfer
read all of the tenant's accounts in its currency. With 1,000 accounts and 8 concurrent
callers that was 0.71 ms of server CPU per transfer; by primary key it is 0.29 ms. Same
checks, same errors."""

import importlib

from django.db import migrations

# Replaces the head of migration 0002's locking loop (from its comment "Both rows locked"
# up to the loop body's first statement); the body and the rest are unchanged.
LOCK_AND_UPDATE = """
    -- Both rows locked in one fixed order (by id, lower first), so two transfers never
    -- deadlock. Each UPDATE names its row by primary key alone, so no plan can reach the
    -- row through another index (a generic plan once scanned all of a tenant's accounts
    -- in one currency); funds are checked in the same statement, currency and tenant on
    -- the stored row it returns (the caller's instances may be stale). A refusal leaves
    -- the loop early and is explained below.
    FOREACH v_account IN ARRAY ARRAY[least(p_debit, p_credit), greatest(p_debit, p_credit)]
    LOOP
        UPDATE public.wallet_account a
           SET balance = a.balance + CASE WHEN a.id = p_debit THEN -p_amount ELSE p_amount END,
               version = a.version + 1
         WHERE a.id = v_account
           AND (a.id <> p_debit OR a.is_system OR a.balance >= p_amount)
        RETURNING a.id, a.balance, a.version, a.currency, a.tenant_id, a.is_system INTO v_acc;
        EXIT WHEN NOT FOUND
            OR v_acc.currency <> p_currency
            OR (v_acc.tenant_id IS DISTINCT FROM p_tenant
                AND NOT (v_acc.tenant_id IS NULL AND v_acc.is_system));
"""


def _previous() -> str:
    """The function as migration 0002 created it (its module name starts with a digit)."""
    forward = importlib.import_module(
        "wallet.migrations.0002_append_only_and_transfer_function"
    ).FORWARD
    body = forward[forward.index("CREATE FUNCTION wallet_transfer_post(") :]
    return body.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def _forward() -> str:
    previous = _previous()
    start = previous.index("    -- Both rows locked in one fixed order")
    end = previous.index("        v_found := v_found + 1;", start)
    declared = "    v_found int := 0;\n"
    head = previous[:start].replace(declared, declared + "    v_account bigint;\n", 1)
    assert "v_account bigint" in head, "migration 0002's function changed shape"
    return head + LOCK_AND_UPDATE.lstrip("\n") + previous[end:]


class Migration(migrations.Migration):
    dependencies = [("wallet", "0011_stars")]
    operations = [migrations.RunSQL(_forward(), _previous())]
