"""``python -m sandbox.x --port 8083 [--bearer TOKEN ...]``: the sandbox X on its own, with
its web page at http://127.0.0.1:8083/sandbox/."""

from __future__ import annotations

from sandbox import cli
from sandbox.x.limits import Limits
from sandbox.x.server import SandboxX


def main(argv: list[str] | None = None) -> int:
    parser = cli.argument_parser("python -m sandbox.x", "A loopback X API v2.", port=8083)
    parser.add_argument(
        "--bearer",
        action="append",
        default=[],
        metavar="TOKEN",
        help="register an app's bearer token (repeatable)",
    )
    parser.add_argument("--no-rate-limits", action="store_true", help="turn X's rate limits off")
    args = cli.parse(parser, argv)

    x = SandboxX(args.host, args.port, limits=Limits.off() if args.no_rate_limits else None)
    for token in args.bearer:
        cli.say(f"app {x.add_app(token)}: bearer token registered")
    return cli.serve(
        x,
        f"sandbox X on http://{args.host}:{args.port}: API at /2/..., "
        f"web page at /sandbox/, control API at /sandbox/api/",
    )


if __name__ == "__main__":
    raise SystemExit(main())
