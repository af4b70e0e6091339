"""``chainrule explore``: any weight's gradient in the browser, on a real network.

A local server (:mod:`~chainrule.explore.server`, bound to 127.0.0.1, token required) serves one
page (``static/``: the network as SVG, the derivation typeset by KaTeX, vendored in the package so
it works offline) and answers its JSON requests from a :class:`~chainrule.explore.session.Session`,
which computes everything with chainrule's own ``explain`` and ``gradients``.

>>> import json, urllib.request
>>> from chainrule.data import article_example
>>> net, x, y = article_example()
>>> with ExploreServer(Session(net, x, y, "squared_error")) as server:
...     address = f"http://127.0.0.1:{server.port}/api/explain?layer=2&j=1&k=2&token={server.token}"
...     answer = json.load(urllib.request.urlopen(address))
>>> answer["describe"], answer["term1"] * answer["term2"] * answer["term3"] == answer["product"]
('from node 2 of layer 1 to node 1 of layer 2', True)
"""

from __future__ import annotations

from .server import ExploreServer
from .session import Session

__all__ = ["ExploreServer", "Session"]
