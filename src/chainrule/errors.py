"""The exception chainrule raises for bad input.

Every check at the public edge raises :class:`ChainruleError` (a ``ValueError``) with a message
that names the parameter or layer, what was expected and what came, so callers (and the CLI) can
catch one type and show one clear line.
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable
from typing import Any

__all__ = ["ChainruleError", "shown", "unknown_name"]

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6
_repr.maxlevel = 3
_repr.maxlong = 40


def shown(value: Any) -> str:
    """A short ``repr`` of ``value`` for an error message: long strings, lists and huge integers
    are cut with ``...``, so a message stays a few lines whatever came in.

    >>> shown("x" * 1000)[:12], len(shown("x" * 1000)) < 80
    ("'xxxxxxxxxxx", True)
    >>> shown(list(range(100)))
    '[0, 1, 2, 3, 4, 5, ...]'
    """
    try:
        text = _repr.repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= 120 else text[:117] + "..."


class ChainruleError(ValueError):
    """Bad input to chainrule: a wrong shape, a non-finite value, an unknown name, ..."""


def unknown_name(kind: str, name: str, valid: Iterable[str]) -> ChainruleError:
    """An error for an unknown registry name that lists the valid ones (and a close match)."""
    valid = sorted(valid)
    close = difflib.get_close_matches(str(name), valid, n=1) if isinstance(name, str) and len(name) < 100 else []
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ChainruleError(f"unknown {kind} {shown(name)}; valid names: {', '.join(valid)}.{hint}")
