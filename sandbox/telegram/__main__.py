"""``python -m sandbox.telegram --port 8081 [--bot TOKEN ...]``: the sandbox Telegram on
its own, with its web page at http://127.0.0.1:8081/sandbox/."""

from __future__ import annotations

import argparse
import logging
import sys

from sandbox.telegram.errors import SandboxError
from sandbox.telegram.limits import Limits
from sandbox.telegram.server import SandboxTelegram


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.telegram", description="A loopback Telegram Bot API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--bot",
        action="append",
        default=[],
        metavar="TOKEN[=USERNAME]",
        help="register a bot (repeatable); its username defaults to bot<id>_bot",
    )
    parser.add_argument(
        "--no-flood-limits", action="store_true", help="turn Telegram's flood control off"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    tg = SandboxTelegram(
        args.host, args.port, limits=Limits.off() if args.no_flood_limits else None
    )
    for spec in args.bot:
        token, _, username = spec.partition("=")
        try:
            user = tg.add_bot(token, username=username or None)
        except SandboxError as exc:
            parser.error(f"--bot {token.split(':')[0]}:...: {exc.detail}")
        print(f"bot @{user['username']} (id {user['id']})", file=sys.stderr)
    print(
        f"sandbox Telegram on http://{args.host}:{args.port}: Bot API at /bot<token>/<method>, "
        f"web page at /sandbox/, control API at /sandbox/api/",
        file=sys.stderr,
    )
    tg.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
