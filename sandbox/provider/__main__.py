"""``python -m sandbox.provider --port 8082 [--webhook-url URL]``: the sandbox payment
provider on its own, with its page at http://127.0.0.1:8082/."""

from __future__ import annotations

import argparse
import logging
import sys

from sandbox.provider.server import (
    DEFAULT_API_KEY,
    DEFAULT_OUTCOME,
    DEFAULT_WEBHOOK_SECRET,
    SandboxProvider,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.provider", description="A loopback payment provider."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the bearer key /v1 takes")
    parser.add_argument("--webhook-url", default=None, help="where events are delivered")
    parser.add_argument("--webhook-secret", default=DEFAULT_WEBHOOK_SECRET)
    parser.add_argument(
        "--default-outcome",
        default=DEFAULT_OUTCOME,
        help="what an unscripted payout does (succeeded, failed, rejected, pending, "
        "pending_then_succeeded, pending_then_failed)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    provider = SandboxProvider(
        args.host,
        args.port,
        api_key=args.api_key,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        default_outcome=args.default_outcome,
    )
    print(
        f"sandbox provider on http://{args.host}:{args.port}: API at /v1/payouts, "
        f"control API at /control/, page at /; webhooks to {args.webhook_url or '(none yet)'}",
        file=sys.stderr,
    )
    provider.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
