"""What the loopback servers (``sandbox.telegram``, ``sandbox.provider``, ``sandbox.x``)
share: an aiohttp site on an event loop of its own, served from a background thread
(``start`` / ``stop``: tests, ``make run``) or from the calling thread (``serve_forever``:
``python -m sandbox.<name>``), the routes of a sandbox's web page, and the delays between
a webhook's retries. A subclass builds and tears down its site."""

from __future__ import annotations

import asyncio
import html
import inspect
import json
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from string import Template
from typing import Any

from aiohttp import web

SHARED_WEB_DIR = Path(__file__).resolve().parent / "web"  # assets every sandbox page loads


class BackgroundServer:
    thread_name = "sandbox"
    host: str
    port: int  # 0 until started asks for any free port; then the one taken
    base_url: str  # http://host:port, once started
    # None until started (class defaults, so a subclass's __init__ need not set them)
    _thread: threading.Thread | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.base_url = ""

    async def _start_site(self) -> None:
        raise NotImplementedError

    async def _stop_site(self) -> None:
        raise NotImplementedError

    async def _open_site(self, app: web.Application) -> None:
        """Listen on ``host:port`` with ``app``; record the port taken and ``base_url``."""
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        host, port = self._runner.addresses[0][:2]
        self.port = port
        self.base_url = f"http://{host}:{port}"

    async def _close_site(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def start(self) -> str:
        """Serve in a background thread; return the base URL ``http://host:port``."""
        if self._thread is not None:
            return self.base_url
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start_site())
            except OSError as exc:  # the port is taken: report it to start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            self._loop = loop
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._stop_site())
            loop.close()

        self._thread = threading.Thread(target=serve, name=self.thread_name, daemon=True)
        self._thread.start()
        ready.wait(timeout=10)
        if failure:
            self._thread = None
            raise failure[0]
        return self.base_url

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None
        self._loop = None

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C)."""

        async def main() -> None:
            await self._start_site()
            try:
                await asyncio.Event().wait()
            finally:
                await self._stop_site()

        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            pass


Handler = Callable[[web.Request], Awaitable[web.Response]]


def add_web_page(app: web.Application, web_dir: Path, title: str) -> None:
    """Serve a sandbox's page at /sandbox/: the shared ``page.html`` (head, status line,
    toast, scripts) around ``web_dir/layout.html``; the sandbox's own assets (app.js,
    style.css) at /sandbox/static/ and the shared ones at /sandbox/shared/."""

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/sandbox/")

    async def page(request: web.Request) -> web.Response:
        # Read on every request, as a static file would be, so edits show on reload.
        skeleton = Template((SHARED_WEB_DIR / "page.html").read_text(encoding="utf-8"))
        layout = (web_dir / "layout.html").read_text(encoding="utf-8").rstrip("\n")
        text = skeleton.substitute(title=html.escape(title), layout=layout)
        return web.Response(text=text, content_type="text/html")

    app.router.add_get("/sandbox", redirect)
    app.router.add_get("/sandbox/", page)
    app.router.add_static("/sandbox/static/", web_dir)
    app.router.add_static("/sandbox/shared/", SHARED_WEB_DIR)


def json_endpoint(
    func: Callable[[web.Request, dict[str, Any]], Any],
    *,
    errors: tuple[type[Exception], ...],
    status: int = 200,
) -> Handler:
    """A control-API route: read the JSON body, call ``func`` (awaiting what it returns
    when that is awaitable), answer its result as JSON (``{"ok": true}`` for None). An
    exception of ``errors`` (with ``detail``, ``code`` and ``status``) and bad input are
    answered ``{"detail", "code"}`` with a 4xx."""

    async def handle(request: web.Request) -> web.Response:
        body: dict[str, Any] = {}
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                return json_error("the body is not JSON", "invalid_json", 400)
            if not isinstance(body, dict):
                return json_error("the body must be a JSON object", "invalid_json", 400)
        try:
            result = func(request, body)
            if inspect.isawaitable(result):
                result = await result
        except errors as exc:
            return json_error(exc.detail, exc.code, exc.status)  # type: ignore[attr-defined]  # the errors given carry them
        except KeyError as exc:
            return json_error(f"missing field {exc.args[0]!r}", "missing_field", 400)
        except (TypeError, ValueError) as exc:
            return json_error(str(exc), "invalid", 400)
        return web.json_response(
            {"ok": True} if result is None else result,
            status=status,
            dumps=lambda v: json.dumps(v, ensure_ascii=False),
        )

    return handle


def json_error(detail: str, code: str, status: int) -> web.Response:
    return web.json_response({"detail": detail, "code": code}, status=status)


def retry_delay(failures: int, *, base: float, cap: float) -> float:
    """Seconds to wait after the n-th failed delivery in a row: doubling, capped."""
    return min(cap, base * 2 ** (failures - 1))
