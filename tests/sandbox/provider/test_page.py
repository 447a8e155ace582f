"""The page at ``/`` lists deposits, payouts and events, escaping what it shows."""

from __future__ import annotations

from tests.sandbox.provider.helpers import http, payout


def test_the_page_lists_deposits_payouts_and_deliveries(provider, receiver):
    provider.deposit("<b>user</b>", "USDT", 1_500_000)
    provider.script_payouts({"result": "failed", "failure_code": "address_invalid"})
    payout(
        provider.base_url,
        {"withdrawal_id": "wd-77", "currency": "TON", "amount": 5, "destination": "EQ"},
    )
    provider.wait_idle()

    page = http().get(f"{provider.base_url}/")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "&lt;b&gt;user&lt;/b&gt;" in html and "<b>user</b>" not in html
    assert "1500000" in html and "wd-77" in html and "address_invalid" in html
    assert "Deposits (1)" in html and "Payouts (1)" in html and "Events (2)" in html
    assert "delivery → 200" in html
