"""A Kubernetes API double for the provisioner: kmock's emulator plus what the
provisioner relies on and kmock leaves out.

kmock (``kmock.KubernetesEmulator``) serves the Kubernetes API over HTTP from memory
and records every request (``list(double)``, or ``double.calls()``). Added here:

- server-side apply: a ``PATCH`` with ``application/apply-patch+yaml`` creates a missing
  object and replaces an existing one's body (one field manager: what it applies is the
  whole object), keeping the ``status`` and bumping ``metadata.generation`` when the
  ``spec`` changes; a merge patch (``application/merge-patch+json``) merges;
- ``labelSelector`` on lists (``k=v``, ``k!=v``, ``k``, ``!k``);
- namespaces as objects (``/api/v1/namespaces/<name>``, which kmock reads as a
  namespace's path, not an object's).

``serve()`` runs it on a local port in a thread of its own, so the official (blocking)
client can call it from tests (which read its objects directly). ``serve_process()`` runs
it in a process of its own, as a real API server is, for a benchmark: the client's and
the server's work do not share one interpreter lock; ``remote_calls(url)`` reads its
requests over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import multiprocessing
import threading
from collections.abc import Iterator
from typing import Any

import aiohttp.web
import kmock
import urllib3
from aiohttp.test_utils import RawTestServer
from kmock import KubernetesEmulator, KubernetesObjectNotFoundError, resource
from kmock._internal.rendering import Request

NAMESPACES = resource("", "v1", "namespaces")
APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
CALLS_PATH = "/_double/calls"  # the requests so far (not itself), for another process
WRITES = {"PATCH", "POST", "PUT", "DELETE"}


def _selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term not in labels:
            return False
    return True


class KubernetesDouble(KubernetesEmulator):
    """See the module. ``status_set`` plays the controllers (a Deployment's rollout)."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._versions = itertools.count(1)
        self._refusals: dict[tuple[str, str], int] = {}

    def refuse(self, method: str, path: str, status: int) -> None:
        """Answer ``method path`` with ``status`` from now on (an RBAC denial, a quota)."""
        self._refusals[(method.upper(), path)] = status

    def calls(self) -> list[tuple[str, str]]:
        """(method, path) of every request so far, in order."""
        return [(str(r.method.value), r.url.path) for r in self]

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls() if c[0] in WRITES]

    def live(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """An object as stored (None when absent or deleted)."""
        for (res, ns, nm), obj in self._objects.items():
            if res.plural == plural and ns == namespace and nm == name and not obj.deleted:
                return copy.deepcopy(obj.raw)
        return None

    def status_set(self, plural: str, namespace: str, name: str, status: dict[str, Any]) -> None:
        for (res, ns, nm), obj in self._objects.items():
            if res.plural == plural and ns == namespace and nm == name and not obj.deleted:
                obj.patch({"status": status})
                return
        raise KeyError((plural, namespace, name))

    def _target(self, request: Request) -> tuple[Any, str | None, str | None] | None:
        parts = request.url.path.strip("/").split("/")
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) <= 4:
            return NAMESPACES, None, parts[3] if len(parts) == 4 else None
        res = request.resource
        if res is None or res.plural is None or request.subresource:
            return None
        return res, request.namespace, request.name

    async def _handle(self, request: Request) -> aiohttp.web.StreamResponse:
        if request.url.path == CALLS_PATH:
            calls = [c for c in self.calls() if c[1] != CALLS_PATH]
            return aiohttp.web.json_response({"calls": calls})
        target = self._target(request)
        if target is None:
            return await super()._handle(request)
        res, namespace, name = target
        method = str(request.method.value)
        refused = self._refusals.get((method, request.url.path))
        if refused:
            status = {"kind": "Status", "code": refused, "status": "Failure", "message": "refused"}
            return aiohttp.web.json_response(status, status=refused)
        if name is None and method != "GET":  # a create (POST): kmock's own (it locks)
            return await super()._handle(request)
        async with self._lock:
            if name is None:
                selector = request.params.get("labelSelector", "")
                items = [
                    copy.deepcopy(obj.raw)
                    for (r, ns, _), obj in self._objects.items()
                    if r == res and (namespace is None or ns == namespace) and not obj.deleted
                    if _selector_matches(selector, obj.raw.get("metadata", {}).get("labels", {}))
                ]
                body = {"kind": "List", "metadata": {"resourceVersion": "1"}, "items": items}
                return aiohttp.web.json_response(body)
            key = (res, namespace, name)
            stored = self._objects[key] if key in self._objects else None
            live = stored if stored is not None and not stored.deleted else None
            if method == "GET":
                if live is None:
                    raise KubernetesObjectNotFoundError()
                return aiohttp.web.json_response(live.raw)
            if method == "DELETE":
                if live is None:
                    raise KubernetesObjectNotFoundError()
                last = copy.deepcopy(live.raw)
                live.delete()
                return aiohttp.web.json_response(last)
            if method == "PATCH":
                content_type = request.headers.get("Content-Type", "").split(";")[0]
                if content_type == APPLY:
                    body = self._applied(request.data, namespace, name, live)
                    if live is not None:
                        live.create(body)
                    else:
                        self._objects[key] = body
                    return aiohttp.web.json_response(body)
                if live is None:
                    raise KubernetesObjectNotFoundError()
                if content_type == MERGE:
                    live.patch(request.data)
                    return aiohttp.web.json_response(live.raw)
                return aiohttp.web.json_response(
                    {"kind": "Status", "code": 415, "message": content_type}, status=415
                )
        return await super()._handle(request)

    def _applied(
        self, data: dict[str, Any], namespace: str | None, name: str, stored: Any
    ) -> dict[str, Any]:
        body = copy.deepcopy(data)
        meta = body.setdefault("metadata", {})
        meta["name"] = name
        if namespace is not None:
            meta["namespace"] = namespace
        meta["resourceVersion"] = str(next(self._versions))
        if stored is None:
            meta["generation"] = 1
            meta["uid"] = f"uid-{meta['resourceVersion']}"
            return body
        old = stored.raw
        meta["uid"] = old["metadata"].get("uid")
        generation = old["metadata"].get("generation", 1)
        meta["generation"] = generation + (old.get("spec") != body.get("spec"))
        if "status" in old:
            body["status"] = old["status"]
        return body


class _QuietServer(RawTestServer):
    """No access-log line per request (thousands in a benchmark)."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, access_log=None, **kwargs)


@contextlib.contextmanager
def serve() -> Iterator[tuple[KubernetesDouble, str]]:
    """A running double and its base URL (http://127.0.0.1:<port>), in a thread of its own."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: asyncio.Future[None] | None = None
    state: dict[str, Any] = {}

    async def main() -> None:
        nonlocal stop
        stop = loop.create_future()
        async with (
            KubernetesDouble() as double,
            kmock.Server(double, server_cls=_QuietServer) as server,
        ):
            state["double"], state["url"] = double, str(server.url).rstrip("/")
            ready.set()
            await stop

    def run() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # reported to the caller below
            state["error"] = exc
            ready.set()

    thread = threading.Thread(target=run, name="kubernetes-double", daemon=True)
    thread.start()
    ready.wait(10)
    if "error" in state or "double" not in state:
        raise RuntimeError(f"the Kubernetes double did not start: {state.get('error')!r}")
    try:
        yield state["double"], state["url"]
    finally:

        def finish() -> None:
            if stop is not None and not stop.done():
                stop.set_result(None)

        loop.call_soon_threadsafe(finish)
        thread.join(10)
        loop.close()


def _serve_forever(conn: Any) -> None:
    async def main() -> None:
        async with (
            KubernetesDouble() as double,
            kmock.Server(double, server_cls=_QuietServer) as server,
        ):
            conn.send(str(server.url).rstrip("/"))
            await asyncio.Event().wait()  # until the parent terminates this process

    asyncio.run(main())


@contextlib.contextmanager
def serve_process() -> Iterator[str]:
    """The base URL of a double running in a child process (stopped on exit)."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve_forever, args=(child,), daemon=True)
    process.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("the Kubernetes double's process did not start")
        yield parent.recv()
    finally:
        process.terminate()
        process.join(10)


def remote_calls(url: str) -> list[tuple[str, str]]:
    """(method, path) of every request a ``serve_process()`` double has had."""
    response = urllib3.request("GET", url + CALLS_PATH)
    return [(method, path) for method, path in response.json()["calls"]]
