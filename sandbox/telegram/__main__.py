"""``python -m sandbox.telegram --port 8081 [--bot TOKEN ...]``: the sandbox Telegram on
its own, with its web page at http://127.0.0.1:8081/sandbox/."""

from __future__ import annotations

from sandbox import cli
from sandbox.telegram.errors import SandboxError
from sandbox.telegram.limits import Limits
from sandbox.telegram.server import SandboxTelegram


def main(argv: list[str] | None = None) -> int:
    parser = cli.argument_parser(
        "python -m sandbox.telegram", "A loopback Telegram Bot API.", port=8081
    )
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
    args = cli.parse(parser, argv)

    tg = SandboxTelegram(
        args.host, args.port, limits=Limits.off() if args.no_flood_limits else None
    )
    for spec in args.bot:
        token, _, username = spec.partition("=")
        try:
            user = tg.add_bot(token, username=username or None)
        except SandboxError as exc:
            parser.error(f"--bot {token.split(':')[0]}:...: {exc.detail}")
        cli.say(f"bot @{user['username']} (id {user['id']})")
    return cli.serve(
        tg,
        f"sandbox Telegram on http://{args.host}:{args.port}: Bot API at /bot<token>/<method>, "
        f"web page at /sandbox/, control API at /sandbox/api/",
    )


if __name__ == "__main__":
    raise SystemExit(main())
