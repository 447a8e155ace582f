"""The payout of a withdrawal, against the sandbox provider over HTTP: one payout per
withdrawal whatever crashes or retries happen, a pending payout settled by its webhook
(or by asking again), a provider that cannot answer leaves the money held and the job
retrying."""

from __future__ import annotations

import pytest

from accounts.services import user_touch
from botruntime.models import Job
from tests.wallet.helpers import (
    TRON_ADDRESS,
    assert_consistent,
    balance,
    deliver,
    escrow_of_user,
    fund_user,
    post_signed,
    run_payout_jobs,
    signature_for,
)
from wallet.models import ProviderEvent, Withdrawal
from wallet.providers import provider_get
from wallet.providers.base import PayoutRequest, ProviderUnavailable
from wallet.providers.config import ProviderConfig
from wallet.services import withdrawal_payout_send, withdrawal_request
from wallet.services.withdrawals import PAYOUT_JOB

USER = 7501


@pytest.fixture
def held(tenant, provider):
    """A queued withdrawal of 2 USDT out of the user's 5."""
    account = fund_user(tenant, USER, 5_000_000)
    user = user_touch(profile={"id": USER, "first_name": "U", "username": "u"})
    requested = withdrawal_request(
        tenant=tenant,
        user=user,
        currency="USDT",
        amount=2_000_000,
        destination=TRON_ADDRESS,
        idempotency_key="k",
    )
    return account, requested.withdrawal


def payouts_of(provider, withdrawal) -> list[dict]:
    return [p for p in provider.server.payouts() if p["withdrawal_id"] == str(withdrawal.pk)]


def test_a_crash_between_sent_and_recorded_never_pays_twice(tenant, provider, held):
    account, withdrawal = held
    # The job's first run reached the provider and died before recording the answer.
    Withdrawal.objects.filter(pk=withdrawal.pk).update(status="sending")
    adapter = provider_get("sandbox")
    assert adapter is not None
    request = PayoutRequest(str(withdrawal.pk), "USDT", 2_000_000, TRON_ADDRESS)
    first = adapter.payout_create(request)
    # Its lease runs out; the job runs again, twice even: the same key, the same payout.
    assert withdrawal_payout_send(withdrawal_id=withdrawal.pk) == "paid"
    assert withdrawal_payout_send(withdrawal_id=withdrawal.pk) == "paid"
    assert [p["id"] for p in payouts_of(provider, withdrawal)] == [first.payout_id]
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.payout_id) == ("paid", first.payout_id)
    assert (balance(account), escrow_of_user(tenant, USER)) == (3_000_000, 0)
    assert_consistent()


def test_a_pending_payout_is_settled_by_its_webhook_once(tenant, provider, held):
    account, withdrawal = held
    provider.server.script_payouts("pending")
    assert run_payout_jobs() == ["done"]
    withdrawal.refresh_from_db()
    assert withdrawal.status == "sending"
    # Asked again later, unless the webhook comes first.
    again = Job.objects.get(kind=PAYOUT_JOB, status="pending")
    assert again.run_at > withdrawal.updated_at
    provider.server.settle_payout(withdrawal.payout_id, "succeeded")
    [event] = provider.deliveries(1)
    response = deliver(event)
    assert response.status_code == 200, response.content
    assert response.json() == {"outcome": "payout", "withdrawal": "paid"}
    assert deliver(event).json() == {"outcome": "payout", "withdrawal": "paid"}  # a duplicate
    assert withdrawal_payout_send(withdrawal_id=withdrawal.pk) == "paid"  # the poll: nothing
    assert (balance(account), escrow_of_user(tenant, USER)) == (3_000_000, 0)
    assert len(payouts_of(provider, withdrawal)) == 1
    assert ProviderEvent.objects.filter(outcome="payout").count() == 2
    assert_consistent()


def test_a_provider_that_cannot_answer_keeps_the_money_held_and_the_job_retrying(
    tenant, provider, held, settings
):
    account, withdrawal = held
    working = settings.WALLET_PROVIDERS["sandbox"]
    settings.WALLET_PROVIDERS = {
        "sandbox": ProviderConfig(
            name="sandbox",
            adapter="sandbox",
            base_url="http://127.0.0.1:9",  # nothing listens
            api_key=working.api_key,
            webhook_secret=working.webhook_secret,
        )
    }
    with pytest.raises(ProviderUnavailable):
        withdrawal_payout_send(withdrawal_id=withdrawal.pk)
    assert run_payout_jobs() == ["failed"]  # recorded on the job, retried with backoff
    withdrawal.refresh_from_db()
    assert withdrawal.status == "sending"
    assert escrow_of_user(tenant, USER) == 2_000_000
    settings.WALLET_PROVIDERS = {"sandbox": working}
    assert withdrawal_payout_send(withdrawal_id=withdrawal.pk) == "paid"
    assert len(payouts_of(provider, withdrawal)) == 1
    assert balance(account) == 3_000_000


def test_a_payout_webhook_for_no_withdrawal_is_refused(tenant, provider, held):
    body = (
        b'{"id":"evt_x","type":"payout.succeeded","created":0,'
        b'"data":{"id":"po_x","withdrawal_id":"999999999","status":"succeeded"}}'
    )
    response = post_signed(body, signature_for(body))
    assert (response.status_code, response.json()["code"]) == (404, "unknown_withdrawal")
    assert ProviderEvent.objects.get().outcome == "refused"
    assert Withdrawal.objects.get().status == "queued"
