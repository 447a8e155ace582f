"""``python -m sandbox.provider --port 8082 [--webhook-url URL]``: the sandbox payment
provider on its own, with its page at http://127.0.0.1:8082/."""

from __future__ import annotations

from sandbox import cli
from sandbox.provider.server import (
    DEFAULT_API_KEY,
    DEFAULT_OUTCOME,
    DEFAULT_WEBHOOK_SECRET,
    SandboxProvider,
)


def main(argv: list[str] | None = None) -> int:
    parser = cli.argument_parser(
        "python -m sandbox.provider", "A loopback payment provider.", port=8082
    )
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the bearer key /v1 takes")
    parser.add_argument("--webhook-url", default=None, help="where events are delivered")
    parser.add_argument("--webhook-secret", default=DEFAULT_WEBHOOK_SECRET)
    parser.add_argument(
        "--default-outcome",
        default=DEFAULT_OUTCOME,
        help="what an unscripted payout does (succeeded, failed, rejected, pending, "
        "pending_then_succeeded, pending_then_failed)",
    )
    args = cli.parse(parser, argv)
    provider = SandboxProvider(
        args.host,
        args.port,
        api_key=args.api_key,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        default_outcome=args.default_outcome,
    )
    return cli.serve(
        provider,
        f"sandbox provider on http://{args.host}:{args.port}: API at /v1/payouts, "
        f"control API at /control/, page at /; webhooks to {args.webhook_url or '(none yet)'}",
    )


if __name__ == "__main__":
    raise SystemExit(main())
