"""The provider standalone: ``python -m sandbox.provider --port N`` serves its API, control
API and page, and delivers to the webhook URL it was given."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.sandbox.provider.helpers import control, http, payout, signature_of

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_python_dash_m_runs_the_provider(receiver):
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.provider",
            "--port",
            str(port),
            "--api-key",
            "sk_cli",
            "--webhook-url",
            receiver.url,
            "--webhook-secret",
            "whsec_cli",
            "--default-outcome",
            "succeeded",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                http().get(f"{base}/control/state")
                break
            except Exception:
                assert process.poll() is None, "the provider exited"
                assert time.monotonic() < deadline, "the provider did not start"
                time.sleep(0.05)
        body = {"withdrawal_id": "w", "currency": "USDT", "amount": 1, "destination": "d"}
        assert payout(base, body, api_key="sk_cli").json()["status"] == "succeeded"
        control(base, "POST", "/deposits", {"reference": "r", "currency": "USDT", "amount": 2})
        deliveries = receiver.wait_for(2)
        assert all(signature_of(d, secret="whsec_cli")[1] for d in deliveries)
        assert http().get(f"{base}/").status_code == 200
    finally:
        process.terminate()
        process.wait(10)
