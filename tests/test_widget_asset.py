"""``GET /widget.js``: the sidebar served cross-origin, gzipped, revalidated by ETag."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
from conftest import ServerThread

SOURCE = (Path(__file__).parent.parent / "widget" / "margin.js").read_bytes()


def test_widget_is_served_with_cache_and_cors_headers(server: ServerThread) -> None:
    response = httpx.get(f"{server.url}/widget.js", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200 and response.content == SOURCE
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["x-content-type-options"] == "nosniff"
    etag = response.headers["etag"]
    again = httpx.get(f"{server.url}/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


def test_widget_is_gzipped_for_clients_that_accept_it(server: ServerThread) -> None:
    with httpx.stream("GET", f"{server.url}/widget.js", headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == SOURCE and len(raw) <= 16 * 1024  # benchmarks/widget_size.py's budget
