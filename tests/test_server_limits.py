"""The production server's own limits: half-sent requests, idle connections, too many connections.

Each test runs ``margin serve`` (the same uvicorn settings as production) in a process of its
own, with short limits, and talks to it over raw sockets.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from conftest import free_port

SLACK_S = 8.0
"""Limits here are 1 s; a busy CI machine gets this long before a test calls it a failure."""


@contextmanager
def serve(tmp_path: Path, **server: int | float) -> Iterator[int]:
    port = free_port()
    settings = "\n".join(f"{key} = {value}" for key, value in server.items())
    config = tmp_path / "margin.toml"
    config.write_text(
        f'plugins = ["demo"]\ndata_dir = "{tmp_path / "data"}"\n[server]\nport = {port}\n{settings}\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARGIN_")}
    with subprocess.Popen(
        [sys.executable, "-m", "margin", "serve", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as process:
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("margin serve did not start") from None
                    time.sleep(0.1)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=15)


def seconds_until_closed(sock: socket.socket) -> float:
    """How long the server takes to close ``sock`` (it sends nothing meanwhile)."""
    started = time.monotonic()
    sock.settimeout(SLACK_S + 2)
    while True:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            return float("inf")  # never closed
        except ConnectionResetError:
            data = b""
        if not data:
            return time.monotonic() - started


def test_a_half_sent_body_and_a_silent_connection_are_closed(tmp_path: Path) -> None:
    with serve(tmp_path, request_timeout_s=1, keep_alive_s=1) as port:
        body_short = socket.create_connection(("127.0.0.1", port))
        body_short.sendall(
            b"POST /v1/feedback HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 100\r\n\r\n" + b'{"interaction_'
        )
        silent = socket.create_connection(("127.0.0.1", port))
        headers_only = socket.create_connection(("127.0.0.1", port))
        headers_only.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")  # the headers never end
        for sock in (body_short, silent, headers_only):
            with sock:
                assert seconds_until_closed(sock) < SLACK_S
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200  # whole requests still work


def test_an_idle_kept_alive_connection_is_closed(tmp_path: Path) -> None:
    with (
        serve(tmp_path, request_timeout_s=30, keep_alive_s=1) as port,
        socket.create_connection(("127.0.0.1", port)) as sock,
    ):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        assert seconds_until_closed(sock) < SLACK_S


def test_connections_beyond_the_cap_are_refused_with_503(tmp_path: Path) -> None:
    with serve(tmp_path, request_timeout_s=30, max_connections=3) as port:
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
        try:
            time.sleep(0.3)  # the server has accepted them
            response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
            assert response.status_code == 503
        finally:
            for sock in held:
                sock.close()
        deadline = time.monotonic() + SLACK_S
        while httpx.get(f"http://127.0.0.1:{port}/healthz").status_code != 200:  # room again
            assert time.monotonic() < deadline
            time.sleep(0.1)
