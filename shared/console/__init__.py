"""The operator console: one static page that lists calls and draws each call's sequence diagram.

The page, its script and its style sheet are files beside this module, read once per process on the first
request and kept in memory. The page reads the state API (`/api/calls`) from the browser with the same
function key it was opened with, so it shows nothing that the API does not.

Two routes (function_app.py):
- `GET /api/console` (function key): the HTML page. Asset URLs carry a content hash so a browser never mixes
  an old script with a new page.
- `GET /api/console/assets/{name}` (anonymous): the script and the style sheet. They are the same for everyone
  and hold no data; a `<script src>` cannot send the key header, and writing the key into asset URLs would
  copy a secret into every cache and log on the way. Only the names in ASSETS are served.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import azure.functions as func

HERE = Path(__file__).resolve().parent
PAGE = "console.html"
# name -> content type; nothing else under this folder is ever served.
ASSETS = {
    "diagram.js": "text/javascript; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "operator.js": "text/javascript; charset=utf-8",
    "operator.css": "text/css; charset=utf-8",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass(frozen=True)
class _File:
    body: bytes
    content_type: str


_lock = threading.Lock()
_files: dict[str, _File] | None = None


def _load() -> dict[str, _File]:
    """Read the page and its assets once per process; the page's asset URLs get `?v=<content hash>`."""
    global _files
    if _files is None:
        with _lock:
            if _files is None:
                files = {name: _File((HERE / name).read_bytes(), kind) for name, kind in ASSETS.items()}
                html = (HERE / PAGE).read_text(encoding="utf-8")
                for name, file in files.items():
                    version = hashlib.sha256(file.body).hexdigest()[:12]
                    html = html.replace(f"console/assets/{name}\"", f"console/assets/{name}?v={version}\"")
                files[PAGE] = _File(html.encode("utf-8"), "text/html; charset=utf-8")
                _files = files
    return _files


def page() -> func.HttpResponse:
    """The console page (no data in it: the browser fetches the calls from the state API)."""
    file = _load()[PAGE]
    return func.HttpResponse(file.body, status_code=200, headers={
        **SECURITY_HEADERS, "Content-Type": file.content_type, "Cache-Control": "no-store"})


def asset(name: str) -> func.HttpResponse:
    """One of the page's static files by name, or 404."""
    file = _load().get(name) if name in ASSETS else None
    if file is None:
        return func.HttpResponse("not found", status_code=404, headers={
            **SECURITY_HEADERS, "Content-Type": "text/plain; charset=utf-8"})
    return func.HttpResponse(file.body, status_code=200, headers={
        **SECURITY_HEADERS, "Content-Type": file.content_type, "Cache-Control": "public, max-age=86400"})
