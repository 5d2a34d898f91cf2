"""uvicorn's HTTP protocol with a deadline on request headers.

uvicorn closes idle keep-alive connections, but a client that opens a connection and sends its
request headers a byte at a time (or never finishes them) holds the connection, and its memory,
for as long as it likes. :func:`header_timeout_protocol` gives uvicorn a protocol that closes a
connection whose request headers are not complete ``seconds`` after the connection opened or
the request's first byte arrived. The body is not covered: the routes bound it by size, and a
request's analysis by time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["header_timeout_protocol"]

log = logging.getLogger(__name__)


def header_timeout_protocol(seconds: float) -> type[asyncio.Protocol]:
    """A uvicorn HTTP protocol class (for ``uvicorn.Config(http=...)``) that times out slow headers.

    Uses httptools' protocol where it is installed (uvicorn's default then), else h11's.
    """
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:  # pragma: no cover - uvicorn without httptools
        from uvicorn.protocols.http.h11_impl import H11Protocol as base

    class HeaderTimeoutProtocol(base):  # type: ignore[misc, valid-type]
        _header_timer: asyncio.TimerHandle | None = None
        header_timeout_s = seconds

        def _start_header_timer(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

        def _stop_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            log.info("closed a connection whose request headers took over %g s", self.header_timeout_s)
            self.transport.close()

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._start_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_header_timer()
            super().connection_lost(exc)

        # httptools' parser callbacks
        def on_message_begin(self) -> None:
            self._start_header_timer()
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._stop_header_timer()
            super().on_headers_complete()

        # h11: headers are complete once h11 has made a request cycle
        def handle_events(self) -> None:
            super().handle_events()
            if getattr(self, "cycle", None) is not None:
                self._stop_header_timer()

    HeaderTimeoutProtocol.__name__ = HeaderTimeoutProtocol.__qualname__ = f"HeaderTimeout{base.__name__}"
    return HeaderTimeoutProtocol
