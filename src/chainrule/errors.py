"""The exception chainrule raises for bad input.

Every check at the public edge raises :class:`ChainruleError` (a ``ValueError``) with a message
that names the parameter or layer, what was expected and what came, so callers (and the CLI) can
catch one type and show one clear line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["ChainruleError", "unknown_name"]


class ChainruleError(ValueError):
    """Bad input to chainrule: a wrong shape, a non-finite value, an unknown name, ..."""


def unknown_name(kind: str, name: str, valid: Iterable[str]) -> ChainruleError:
    """An error for an unknown registry name that lists the valid ones (and a close match)."""
    valid = sorted(valid)
    close = difflib.get_close_matches(str(name), valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ChainruleError(f"unknown {kind} {name!r}; valid names: {', '.join(valid)}.{hint}")
