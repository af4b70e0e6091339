"""One explanation as a single self-contained HTML file (``chainrule explain --html FILE``).

The file is the explore page itself, with everything inlined: its script and style, KaTeX's
script and style, KaTeX's fonts as ``data:`` URLs, and the server's answers (the network, the
sample, the explanation) as JSON. It opens offline from disk and requests nothing: the page's
``api()`` reads the embedded answers instead of fetching them, and a Content-Security-Policy
in the file forbids any connection.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from .server import STATIC
from .session import Session

__all__ = ["standalone_html"]


def _text(name: str) -> str:
    node = STATIC
    for part in name.split("/"):
        node = node / part
    return node.read_text(encoding="utf-8")


def _katex_css() -> str:
    """KaTeX's style sheet with each font inlined as a data: URL."""

    def inline(match: re.Match[str]) -> str:
        font = (STATIC / "katex" / "fonts" / match.group(1)).read_bytes()
        return f"url(data:font/woff2;base64,{base64.b64encode(font).decode()})"

    return re.sub(r"url\(fonts/([A-Za-z0-9_.-]+\.woff2)\)", inline, _text("katex/katex.min.css"))


def _script(code: str) -> str:
    return "<script>" + code.replace("</script", "<\\/script") + "</script>"


def standalone_html(session: Session, layer: int, j: int, k: int | None, sample: int = 0) -> str:
    """The explore page for ``w_jk^(layer)`` (``k=None``: the bias ``b_j^(layer)``) of ``session``'s
    network on its sample ``sample``, as one HTML document with nothing to fetch."""
    answers: dict[str, Any] = {
        "network": session.network(),
        "sample": session.sample(sample),
        "explain": session.explain(layer, j, k, sample),
    }
    page = _text("index.html")
    head = (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "script-src 'unsafe-inline'; style-src 'unsafe-inline'; font-src data:; img-src data:\">"
        f"<style>{_katex_css()}</style><style>{_text('style.css')}</style>"
        + _script(_text("katex/katex.min.js"))
        + _script("window.CHAINRULE_EMBEDDED = " + json.dumps(answers, allow_nan=False) + ";")
        + _script(_text("app.js"))
    )
    page = re.sub(r"\s*<link [^>]*>", "", page)
    page = re.sub(r"\s*<script src=[^>]*></script>", "", page)
    return page.replace("</head>", head + "\n</head>", 1)
