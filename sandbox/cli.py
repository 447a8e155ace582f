"""What ``python -m sandbox.<name>`` shares: where to listen, logging, the banner, and
serving until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from sandbox.serving import BackgroundServer


def argument_parser(prog: str, description: str, port: int) -> argparse.ArgumentParser:
    """A parser with ``--host`` and ``--port`` (``port`` is this sandbox's default)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv`` and log INFO lines bare to stderr (the server's start, mostly)."""
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return args


def say(line: str) -> None:
    """Tell the person at the terminal (stderr, so stdout stays free)."""
    print(line, file=sys.stderr)


def serve(server: BackgroundServer, banner: str) -> int:
    """Print ``banner`` and serve until Ctrl-C; the exit status."""
    say(banner)
    server.serve_forever()
    return 0
