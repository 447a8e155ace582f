"""The provider standalone: ``python -m sandbox.provider --port N`` serves its API, control
API and page, and delivers to the webhook URL it was given."""

from __future__ import annotations

from tests.sandbox.helpers import run_module
from tests.sandbox.provider.helpers import control, http, payout, signature_of


def test_python_dash_m_runs_the_provider(receiver):
    args = ["--api-key", "sk_cli", "--webhook-url", receiver.url, "--webhook-secret", "whsec_cli"]
    args += ["--default-outcome", "succeeded"]
    with run_module("sandbox.provider", *args, ready="/control/state") as base:
        body = {"withdrawal_id": "w", "currency": "USDT", "amount": 1, "destination": "d"}
        assert payout(base, body, api_key="sk_cli").json()["status"] == "succeeded"
        control(base, "POST", "/deposits", {"reference": "r", "currency": "USDT", "amount": 2})
        deliveries = receiver.wait_for(2)
        assert all(signature_of(d, secret="whsec_cli")[1] for d in deliveries)
        assert http().get(f"{base}/").status_code == 200
