"""What the loopback servers (``sandbox.telegram``, ``sandbox.provider``) share: an
aiohttp site on an event loop of its own, served from a background thread (``start`` /
``stop``: tests, ``make run``) or from the calling thread (``serve_forever``: ``python -m
sandbox.<name>``). A subclass builds and tears down its site."""

from __future__ import annotations

import asyncio
import threading


class BackgroundServer:
    thread_name = "sandbox"
    base_url: str  # http://host:port, once started
    _thread: threading.Thread | None
    _loop: asyncio.AbstractEventLoop | None

    async def _start_site(self) -> None:
        raise NotImplementedError

    async def _stop_site(self) -> None:
        raise NotImplementedError

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
