"""Serving the sidebar: ``GET /widget.js``, read once, gzipped once, cached by ETag."""

from __future__ import annotations

import gzip
import hashlib
from importlib.resources import files
from typing import Any

from litestar import Request, Response, get

_SOURCE = files("margin.widget").joinpath("margin.js").read_bytes()
_GZIPPED = gzip.compress(_SOURCE, compresslevel=9, mtime=0)
_ETAG = '"' + hashlib.sha256(_SOURCE).hexdigest()[:20] + '"'
_HEADERS = {
    "Cache-Control": "public, max-age=300, must-revalidate",
    "ETag": _ETAG,
    "Vary": "Accept-Encoding",
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "X-Content-Type-Options": "nosniff",
}


@get("/widget.js", include_in_schema=False, media_type="text/javascript")
async def widget_js(request: Request[Any, Any, Any]) -> Response[bytes]:
    if request.headers.get("if-none-match") == _ETAG:
        return Response(b"", status_code=304, headers=_HEADERS)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(_GZIPPED, headers={**_HEADERS, "Content-Encoding": "gzip"})
    return Response(_SOURCE, headers=_HEADERS)
