"""``python -m sandbox.x --port 8083 [--bearer TOKEN ...]``: the sandbox X on its own, with
its web page at http://127.0.0.1:8083/sandbox/."""

from __future__ import annotations

import argparse
import logging
import sys

from sandbox.x.limits import Limits
from sandbox.x.server import SandboxX


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.x", description="A loopback X API v2.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8083)
    parser.add_argument(
        "--bearer",
        action="append",
        default=[],
        metavar="TOKEN",
        help="register an app's bearer token (repeatable)",
    )
    parser.add_argument("--no-rate-limits", action="store_true", help="turn X's rate limits off")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    x = SandboxX(args.host, args.port, limits=Limits.off() if args.no_rate_limits else None)
    for token in args.bearer:
        print(f"app {x.add_app(token)}: bearer token registered", file=sys.stderr)
    print(
        f"sandbox X on http://{args.host}:{args.port}: API at /2/..., "
        f"web page at /sandbox/, control API at /sandbox/api/",
        file=sys.stderr,
    )
    x.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
