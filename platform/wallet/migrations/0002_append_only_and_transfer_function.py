"""In the database itself: transfers and entries are append-only (UPDATE, DELETE and
TRUNCATE refused, as history does for its log), accounts and holds cannot be deleted,
and ``wallet_transfer_post`` moves money in one round trip.

Why a function: a transfer is an idempotent insert, two row locks in a fixed order, one
update of both balances and two entries. Sent one by one from Python that is five round
trips; in one PL/pgSQL call it is one (its statements' plans are cached per connection).
``wallet.services.ledger`` is its only caller and keeps every business rule visible in
one place: the function checks again what the service checked from the instances it was
given, because those may be stale.

Errors carry their own SQLSTATEs (class WL) that the service turns into WalletError codes:
WL001 insufficient_funds, WL002 idempotency_conflict, WL003 currency_mismatch, WL004
account_not_in_tenant, WL005 account_not_found.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION wallet_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% keeps its rows: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER wallet_transfer_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON wallet_transfer
    FOR EACH STATEMENT EXECUTE FUNCTION wallet_refuse_change();
CREATE TRIGGER wallet_entry_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON wallet_entry
    FOR EACH STATEMENT EXECUTE FUNCTION wallet_refuse_change();
-- Accounts and holds change (balances, a hold's state) but are never removed: entries
-- and transfers refer to them.
CREATE TRIGGER wallet_account_no_delete
    BEFORE DELETE OR TRUNCATE ON wallet_account
    FOR EACH STATEMENT EXECUTE FUNCTION wallet_refuse_change();
CREATE TRIGGER wallet_hold_no_delete
    BEFORE DELETE OR TRUNCATE ON wallet_hold
    FOR EACH STATEMENT EXECUTE FUNCTION wallet_refuse_change();

CREATE FUNCTION wallet_transfer_post(
    p_tenant bigint, p_debit bigint, p_credit bigint, p_amount bigint, p_currency text,
    p_kind text, p_key text, p_metadata jsonb, p_hold bigint
) RETURNS TABLE (transfer_id bigint, created_at timestamptz, replayed boolean)
AS $$
DECLARE
    v_id bigint;
    v_at timestamptz := clock_timestamp();
    v_old public.wallet_transfer;
    v_acc record;
    v_found int := 0;
    v_debit_before bigint;
    v_debit_version bigint;
    v_credit_before bigint;
    v_credit_version bigint;
BEGIN
    -- The key first: a replay costs one index probe and moves nothing; a concurrent
    -- request with the same key waits here for the first one's outcome.
    INSERT INTO public.wallet_transfer AS t
           (tenant_id, debit_id, credit_id, amount, currency, kind, idempotency_key,
            metadata, created_at, hold_id)
    VALUES (p_tenant, p_debit, p_credit, p_amount, p_currency, p_kind, p_key,
            p_metadata, v_at, p_hold)
    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
    RETURNING t.id INTO v_id;
    IF v_id IS NULL THEN
        -- Two spellings, because IS NOT DISTINCT FROM cannot use the key's index.
        IF p_tenant IS NULL THEN
            SELECT * INTO v_old FROM public.wallet_transfer t
             WHERE t.tenant_id IS NULL AND t.idempotency_key = p_key;
        ELSE
            SELECT * INTO v_old FROM public.wallet_transfer t
             WHERE t.tenant_id = p_tenant AND t.idempotency_key = p_key;
        END IF;
        IF (v_old.debit_id, v_old.credit_id, v_old.amount, v_old.currency, v_old.kind,
            v_old.metadata, v_old.hold_id)
           IS DISTINCT FROM (p_debit, p_credit, p_amount, p_currency, p_kind, p_metadata, p_hold)
        THEN
            RAISE EXCEPTION 'idempotency key % already names transfer % with other parameters',
                p_key, v_old.id USING ERRCODE = 'WL002';
        END IF;
        RETURN QUERY SELECT v_old.id, v_old.created_at, true;
        RETURN;
    END IF;

    -- Both rows locked in one fixed order (by id: the CTE sorts, then locks), so two
    -- transfers never deadlock; then updated in the same statement, only if the stored
    -- rows allow it (currency, tenant, funds: the caller's instances may be stale).
    -- Rows changed meanwhile are re-read and re-checked by PostgreSQL before the update.
    FOR v_acc IN
        WITH locked AS (
            SELECT a.id FROM public.wallet_account a
             WHERE a.id IN (p_debit, p_credit)
             ORDER BY a.id
               FOR UPDATE
        )
        UPDATE public.wallet_account a
           SET balance = a.balance + CASE WHEN a.id = p_debit THEN -p_amount ELSE p_amount END,
               version = a.version + 1
          FROM locked
         WHERE a.id = locked.id
           AND a.currency = p_currency
           AND (a.tenant_id = p_tenant OR (a.tenant_id IS NULL AND a.is_system))
           AND (a.id <> p_debit OR a.is_system OR a.balance >= p_amount)
        RETURNING a.id, a.balance, a.version
    LOOP
        v_found := v_found + 1;
        IF v_acc.id = p_debit THEN
            v_debit_before := v_acc.balance + p_amount;
            v_debit_version := v_acc.version;
        ELSE
            v_credit_before := v_acc.balance - p_amount;
            v_credit_version := v_acc.version;
        END IF;
    END LOOP;

    IF v_found <> 2 THEN
        -- Refused: say why (the exception undoes the update of the other row).
        v_found := 0;
        FOR v_acc IN
            SELECT a.id, a.tenant_id, a.currency, a.balance, a.is_system
              FROM public.wallet_account a WHERE a.id IN (p_debit, p_credit)
        LOOP
            v_found := v_found + 1;
            IF v_acc.currency <> p_currency THEN
                RAISE EXCEPTION 'account % holds %, not %', v_acc.id, v_acc.currency, p_currency
                    USING ERRCODE = 'WL003';
            END IF;
            IF v_acc.tenant_id IS DISTINCT FROM p_tenant
               AND NOT (v_acc.tenant_id IS NULL AND v_acc.is_system) THEN
                RAISE EXCEPTION 'account % is not an account of this tenant', v_acc.id
                    USING ERRCODE = 'WL004';
            END IF;
        END LOOP;
        IF v_found <> 2 THEN
            RAISE EXCEPTION 'account % or % does not exist', p_debit, p_credit
                USING ERRCODE = 'WL005';
        END IF;
        RAISE EXCEPTION 'account % cannot pay %', p_debit, p_amount USING ERRCODE = 'WL001';
    END IF;

    INSERT INTO public.wallet_entry
           (transfer_id, account_id, amount, balance_before, balance_after, account_version)
    VALUES (v_id, p_debit, -p_amount, v_debit_before, v_debit_before - p_amount,
            v_debit_version),
           (v_id, p_credit, p_amount, v_credit_before, v_credit_before + p_amount,
            v_credit_version);
    RETURN QUERY SELECT v_id, v_at, false;
END;
$$ LANGUAGE plpgsql;
"""

REVERSE = """
DROP FUNCTION IF EXISTS wallet_transfer_post(bigint, bigint, bigint, bigint, text, text, text,
                                             jsonb, bigint);
DROP TRIGGER IF EXISTS wallet_hold_no_delete ON wallet_hold;
DROP TRIGGER IF EXISTS wallet_account_no_delete ON wallet_account;
DROP TRIGGER IF EXISTS wallet_entry_append_only ON wallet_entry;
DROP TRIGGER IF EXISTS wallet_transfer_append_only ON wallet_transfer;
DROP FUNCTION IF EXISTS wallet_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("wallet", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, REVERSE)]
