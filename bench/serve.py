"""``python -m bench.serve PORT WORKERS``: what ``uvicorn config.asgi:application --host
127.0.0.1 --port PORT --workers WORKERS --log-level warning`` runs (uvicorn's own
multi-worker supervisor), except that the shared listening socket is created as a TCP
socket.

uvicorn (0.54) binds the socket it hands its workers with ``proto`` 0; accepted
connections inherit it, and asyncio sets TCP_NODELAY only on sockets that report
IPPROTO_TCP. With Nagle left on, every keep-alive request after the first waits about
40 ms for the client's delayed ACK (uvicorn answers in two writes: head, then body), so
``--workers 2`` measured that wait rather than the application (Kludex/uvicorn#3149).
One worker without ``--workers`` is unaffected: asyncio creates that socket itself.
"""

from __future__ import annotations

import socket
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

HOST = "127.0.0.1"


def main(port: int, workers: int) -> None:
    config = uvicorn.Config(
        "config.asgi:application", host=HOST, port=port, workers=workers, log_level="warning"
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.set_inheritable(True)
    Multiprocess(config, sockets=[sock]).run()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
