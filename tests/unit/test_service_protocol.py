"""The service's HTTP protocol closes connections whose request headers never complete."""

from __future__ import annotations

import socket
import threading
import time

import pytest

uvicorn = pytest.importorskip("uvicorn")

from affectkit.service.protocol import header_timeout_protocol  # noqa: E402


async def _app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture()
def server():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(_app, log_level="warning", http=header_timeout_protocol(0.5), lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not srv.started and time.monotonic() - t0 < 10:
        time.sleep(0.02)
    yield sock.getsockname()
    srv.should_exit = True
    thread.join(10)


def _closed_by_server(conn: socket.socket, within: float) -> bool:
    conn.settimeout(within)
    try:
        while True:
            chunk = conn.recv(1024)
            if not chunk:
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_half_sent_headers_are_cut_off(server):
    with socket.create_connection(server) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never the rest
        assert _closed_by_server(conn, 5)


def test_a_connection_that_sends_nothing_is_cut_off(server):
    with socket.create_connection(server) as conn:
        assert _closed_by_server(conn, 5)


def test_complete_requests_pass_and_a_slow_second_request_is_cut_off(server):
    with socket.create_connection(server) as conn:
        time.sleep(0.2)
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        conn.settimeout(5)
        assert conn.recv(1024).startswith(b"HTTP/1.1 200")
        conn.sendall(b"GET / HTTP/1.1\r\nHo")  # keep-alive: the next request's headers stall
        assert _closed_by_server(conn, 4)  # before the 5 s keep-alive timeout would apply
