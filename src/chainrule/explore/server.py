"""The explore page's local server: the standard library's threading HTTP server, bound to
127.0.0.1, answering one local user.

Why the standard library: one user on one machine needs neither an async framework nor a
dependency; ``ThreadingHTTPServer`` serves the static page and a few JSON endpoints, and a slow
explanation never blocks the page's other requests.

Safety, as Jupyter does it: a random token (``secrets.token_urlsafe``) is part of the URL the
command prints. The first request that carries it (``?token=``) gets it back as an HttpOnly,
SameSite=Strict cookie, so the page's own requests (scripts, fonts, the JSON API) carry it
without putting it in every URL. A request without the token is refused with 401, one with a
wrong token with 403, and one whose ``Host`` header is not this server's own address
(127.0.0.1 or localhost with its port: a DNS-rebinding page) with 403.

Endpoints (all GET, JSON unless noted): ``/`` the page (HTML), ``/static/...`` its files,
``/api/network``, ``/api/explain?layer=&j=&k=&sample=`` (no ``k``: the bias),
``/api/sample?i=``, ``/api/step?lr=&count=&sample=&layer=&j=&k=`` (no ``sample``: on all samples;
``layer``, ``j``, ``k``: the parameter to report as it moves), ``/api/reset``; practice: ``/api/practice?seed=`` (a
problem without its answers), ``/api/check?seed=&term1=&term2=&term3=&product=&reveal=`` and
``/api/worksheet?problems=&seed=&format=markdown|latex&solutions=0|1`` (a teacher's sheet).
"""

from __future__ import annotations

import hmac
import json
import mimetypes
import secrets
import threading
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import ChainruleError
from .session import Session

__all__ = ["ExploreServer", "STATIC"]

#: the page's files, shipped inside the package
STATIC = resources.files("chainrule.explore") / "static"
_COOKIE = "chainrule_token"


def _static(name: str) -> bytes | None:
    """A file of the page, or None for a name outside the static folder or missing."""
    parts = [p for p in name.split("/") if p]
    if not parts or any(p in (".", "..") or p.startswith(".") for p in parts):
        return None
    node = STATIC
    for p in parts:
        node = node / p
    try:
        return node.read_bytes() if node.is_file() else None
    except OSError:
        return None


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser that closes a connection mid-answer (a reload, a closed tab) is no error to print."""
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class ExploreServer:
    """Serve :class:`Session` ``session`` on ``127.0.0.1:port`` (``port=0``: a free one).

    ``url`` is the address to open, token included. ``serve_forever()`` blocks until
    ``shutdown()`` (from another thread) or Ctrl-C in the caller; ``start()`` serves from a
    background thread instead (tests, notebooks).
    """

    def __init__(self, session: Session, port: int = 0, token: str | None = None) -> None:
        self.session = session
        self.token = token or secrets.token_urlsafe(24)
        self.httpd = _Server(("127.0.0.1", port), _handler(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> ExploreServer:
        self._thread = threading.Thread(target=self.serve_forever, name="chainrule-explore", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> ExploreServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()

    # ---------------------------------------------------------------- requests
    def allowed_hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    def api(self, path: str, query: dict[str, str]) -> Any:
        """The JSON answer of one API endpoint (ChainruleError for bad parameters)."""
        s = self.session
        if path == "/api/network":
            return s.network()
        if path == "/api/explain":
            k = query.get("k")
            return s.explain(
                _int(query, "layer"),
                _int(query, "j"),
                None if k in (None, "") else _int(query, "k"),
                _int(query, "sample", 0),
            )
        if path == "/api/sample":
            return s.sample(_int(query, "i"))
        if path == "/api/step":
            lr = query.get("lr")
            sample = query.get("sample")
            watch = None
            if query.get("layer") not in (None, ""):
                k = query.get("k")
                watch = (_int(query, "layer"), _int(query, "j"), None if k in (None, "") else _int(query, "k"))
            return s.step(
                None if lr in (None, "") else _float(query, "lr"),
                _int(query, "count", 1),
                None if sample in (None, "") else _int(query, "sample"),
                watch,
            )
        if path == "/api/reset":
            return s.reset()
        if path == "/api/practice":
            return s.practice(_int(query, "seed"))
        if path == "/api/worksheet":
            return s.worksheet(
                _int(query, "problems", 10),
                _int(query, "seed"),
                query.get("format", "markdown"),
                query.get("solutions") == "1",
            )
        if path == "/api/check":
            answers = {name: query.get(name) or None for name in ("term1", "term2", "term3", "product")}
            return s.check(_int(query, "seed"), answers, reveal=query.get("reveal") == "1")
        return None


def _int(query: dict[str, str], name: str, default: int | None = None) -> int:
    text = query.get(name)
    if text is None or text == "":
        if default is None:
            raise ChainruleError(f"{name} is missing: give ?{name}=<a whole number>")
        return default
    try:
        return int(text)
    except ValueError:
        raise ChainruleError(f"{name} must be a whole number; got {text[:40]!r}") from None


def _float(query: dict[str, str], name: str) -> float:
    text = query[name]
    try:
        return float(text)
    except ValueError:
        raise ChainruleError(f"{name} must be a number; got {text[:40]!r}") from None


def _handler(server: ExploreServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "chainrule-explore"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass  # quiet: the terminal shows the URL and errors only

        def _send(self, status: int, body: bytes, kind: str, cookie: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header(
                "Content-Security-Policy",
                "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:",
            )
            if cookie is not None:
                self.send_header("Set-Cookie", f"{_COOKIE}={cookie}; HttpOnly; SameSite=Strict; Path=/")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, value: Any) -> None:
            self._send(status, json.dumps(value, allow_nan=False).encode(), "application/json")

        def _refuse(self, status: int, why: str) -> None:
            self._send(status, f"{status} {HTTPStatus(status).phrase}: {why}\n".encode(), "text/plain; charset=utf-8")

        def do_GET(self) -> None:  # noqa: N802 - the base class's name
            host = self.headers.get("Host", "")
            if host not in server.allowed_hosts():
                return self._refuse(403, "this server answers only requests for its own address (127.0.0.1)")
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            cookies = SimpleCookie(self.headers.get("Cookie", ""))
            given = query.get("token") or (cookies[_COOKIE].value if _COOKIE in cookies else None)
            if given is None:
                return self._refuse(401, "open the URL that 'chainrule explore' printed, with its ?token=")
            if not hmac.compare_digest(given.encode(), server.token.encode()):
                return self._refuse(403, "wrong token")
            set_cookie = server.token if query.get("token") else None
            path = parts.path
            if path.startswith("/api/"):
                try:
                    value = server.api(path, query)
                except ChainruleError as exc:
                    return self._json(400, {"error": str(exc)})
                if value is None:
                    return self._json(404, {"error": f"no endpoint {path}"})
                return self._json(200, value)
            name = "index.html" if path in ("/", "/index.html") else path.removeprefix("/static/")
            body = _static(name) if path in ("/", "/index.html") or path.startswith("/static/") else None
            if body is None:
                return self._refuse(404, f"no page {path}")
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind in ("application/javascript",):
                kind += "; charset=utf-8"
            return self._send(200, body, kind, cookie=set_cookie)

    return Handler
