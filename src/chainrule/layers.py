"""Per-layer containers addressed by the article's layer numbers.

The article numbers layers from the input layer ``0`` to the output layer ``L``. Weights,
biases, ``z`` and the backward quantities exist for ``l = 1..L``; activations ``a`` exist for
``l = 0..L`` (``a^(0) = x``). :class:`LayerList` stores one value per layer and is indexed by
exactly those numbers, so ``net.W[2]`` is the article's ``W^(2)`` and no 0-based list leaks out.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

from .errors import ChainruleError, shown

T = TypeVar("T")

__all__ = ["LayerIndexError", "LayerList", "LayerTypeError"]


class LayerIndexError(ChainruleError, IndexError):
    """A layer number outside ``first..last``: a :class:`ChainruleError` that is also an ``IndexError``."""


class LayerTypeError(ChainruleError, TypeError):
    """A layer "number" that is no whole number: a :class:`ChainruleError` that is also a ``TypeError``."""


class LayerList(Generic[T]):
    """One value per layer, indexed by article layer number ``first..last``.

    Parameters
    ----------
    values : iterable
        The values for layers ``first, first + 1, ...`` in order.
    first : int
        The article number of the first layer held (1 for ``W``, ``b``, ``z``; 0 for ``a``).
    name : str
        What is held (``"W"``, ``"a"``, ...), used in error messages.

    Examples
    --------
    >>> W = LayerList(["W1", "W2"], first=1, name="W")
    >>> W[2]
    'W2'
    >>> list(W.items())
    [(1, 'W1'), (2, 'W2')]
    >>> W[0]
    Traceback (most recent call last):
    ...
    chainrule.layers.LayerIndexError: W has no layer 0: its layers are 1..2 (layer numbers follow the article: ...)
    """

    __slots__ = ("_values", "first", "name")

    def __init__(self, values: Iterable[T], first: int = 1, name: str = "value") -> None:
        self._values: list[T] = list(values)
        self.first = first
        self.name = name

    @property
    def last(self) -> int:
        """The article number of the last layer held (``L`` for every list here)."""
        return self.first + len(self._values) - 1

    def layers(self) -> range:
        """The layer numbers held, ``first..last``."""
        return range(self.first, self.last + 1)

    def _position(self, l: object) -> int:
        if type(l) is int and self.first <= l < self.first + len(self._values):
            return l - self.first
        try:
            if isinstance(l, bool):
                raise TypeError
            l = operator.index(l)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - not an int, or a broken __index__
            raise LayerTypeError(f"{self.name} is indexed by a layer number (int), got {shown(l)}") from None
        if not self.first <= l <= self.last:
            raise LayerIndexError(
                f"{self.name} has no layer {shown(l)}: its layers are {self.first}..{self.last} "
                f"(layer numbers follow the article: input layer 0, output layer L = {self.last})"
            )
        return l - self.first

    def __getitem__(self, l: int) -> T:
        return self._values[self._position(l)]

    def __setitem__(self, l: int, value: T) -> None:
        self._values[self._position(l)] = value

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[T]:
        return iter(self._values)

    def items(self) -> Iterator[tuple[int, T]]:
        """``(l, value)`` pairs in layer order."""
        return zip(self.layers(), self._values)

    def to_list(self) -> list[T]:
        """The values as a plain list (position 0 holds layer ``first``)."""
        return list(self._values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{l}: {_short(v)}" for l, v in self.items())
        return f"LayerList({self.name}, {{{inner}}})"


def _short(value: object) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"array{tuple(shape)} {getattr(value, 'dtype', '')}".rstrip()
    return repr(value)
