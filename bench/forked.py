"""Run a function in forked processes, all at once, and collect what each returns.

Benchmarks fork rather than spawn: the children inherit Django, already set up, and the
objects the parent prepared (accounts, tenants) as they are; only what a child returns is
pickled, back through a pipe. Every child opens database connections of its own.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection as Pipe
from typing import Any

from django.db import connections


def _child(target: Callable[..., Any], args: tuple[Any, ...], out: Pipe) -> None:
    try:
        out.send(("ok", target(*args)))
    except BaseException:
        out.send(("error", traceback.format_exc()))
    finally:
        connections.close_all()
        out.close()


def in_processes(target: Callable[..., Any], arglists: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Run ``target(*args)`` for each of ``arglists`` in a forked process of its own, all at
    once; return their results in order. A child's exception is raised here."""
    # Never let a child reuse (or close) the parent's socket.
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    pipes, procs = [], []
    for args in arglists:
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(target, args, send))
        proc.start()
        send.close()
        pipes.append(recv)
        procs.append(proc)
    outcomes = []
    for recv in pipes:
        try:
            outcomes.append(recv.recv())
        except EOFError:
            outcomes.append(("error", "the process died without an answer"))
    for proc in procs:
        proc.join()
    errors = [value for status, value in outcomes if status != "ok"]
    if errors:
        raise RuntimeError(f"{len(errors)} worker(s) failed; the first:\n{errors[0]}")
    return [value for _, value in outcomes]
