"""Fresh arrays carved from one block of memory.

A forward and backward pass hands back a dozen arrays (``z``, ``a``, ``dC0/da``, ``delta`` per
layer). Allocated one by one, they are freed together when the caller drops the result, and the C
allocator then returns that stretch of memory to the operating system and takes it back, page by
page (a page fault each), on the next call: on a 784-128-64-10 network that doubled the time of a
gradient. Carved from one block, they are one allocation, which the allocator keeps for reuse.
Each call still gets its own block, so results are never shared between calls.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Sequence

import numpy as np

from .errors import ChainruleError

__all__ = [
    "MEMORY_LIMIT",
    "TooLargeError",
    "block_offsets",
    "buffer_length",
    "carve",
    "count_digits",
    "human_bytes",
    "human_count",
    "layer_views",
    "out_of_memory",
    "pad_of",
    "release_memory",
    "require_memory",
]


class TooLargeError(ChainruleError):
    """More memory asked for than the machine has (or than the allocator could give): callers
    that know what the arrays are for catch it to say so (see :func:`chainrule.backprop.gradients`)."""


def _physical_memory() -> int:
    """The machine's memory in bytes, or a fixed 1 TiB where the system does not say."""
    try:
        size = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        size = 0
    return size if size > 0 else 1 << 40


#: bytes above which chainrule refuses to allocate (with a clear error, before trying): the
#: machine's memory, and never more than NumPy can index
MEMORY_LIMIT = min(_physical_memory(), np.iinfo(np.intp).max)


def human_bytes(nbytes: float) -> str:
    """``nbytes`` in decimal units: ``"40 TB"``, ``"24 GB"``, ``"512 bytes"``.

    >>> human_bytes(4 * 10**13), human_bytes(2**400)
    ('40 TB', 'about 10^120 bytes')
    """
    if nbytes >= 10**24:  # beyond any machine; also beyond what a float holds, for huge ints
        return f"about 10^{count_digits(int(nbytes)) - 1} bytes"
    for unit, size in (("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= size:
            return f"{nbytes / size:.3g} {unit}"
    return f"{int(nbytes)} bytes"


def count_digits(n: int) -> int:
    """The number of decimal digits of ``n >= 1``, without ``str(n)`` (which refuses huge ints)."""
    digits = max(1, int(n.bit_length() * 0.30102999566398120))
    while 10**digits <= n:
        digits += 1
    while digits > 1 and 10 ** (digits - 1) > n:
        digits -= 1
    return digits


def human_count(n: int) -> str:
    """A count for a message: ``"1234"``, ``"5e12"``, ``"about 10^400"``."""
    if n < 10**6:
        return str(n)
    if n < 10**300:
        return f"{float(n):.3g}".replace("e+", "e")
    return f"about 10^{count_digits(n) - 1}"


def _machine() -> str:
    return f"this machine has {human_bytes(_physical_memory())}"


def require_memory(nbytes: int, what: str, detail: str = "") -> None:
    """Raise :class:`ChainruleError` when ``what`` would need more than :data:`MEMORY_LIMIT` bytes:
    "``what`` would need 40 TB ``detail``; this machine has 24 GB"."""
    if nbytes > MEMORY_LIMIT:
        raise out_of_memory(nbytes, what, detail)


def out_of_memory(nbytes: int, what: str, detail: str = "") -> ChainruleError:
    """The error for a ``MemoryError`` raised while allocating ``nbytes`` for ``what``."""
    if nbytes > MEMORY_LIMIT:
        return TooLargeError(f"{what} would need {human_bytes(nbytes)}{detail}; {_machine()}")
    return TooLargeError(
        f"{what} needs {human_bytes(nbytes)}{detail}, more than is free now ({_machine()}); "
        "use fewer samples per call or a smaller network"
    )


_ALIGN = 64  # bytes: a cache line, and more than any SIMD load needs
_SMALL = 64 * 1024  # bytes: below this the allocator never returns memory to the system


#: blocks of at least this many bytes may be reused (see :func:`carve`): glibc's threshold above
#: which memory is mapped fresh from the operating system on every allocation (page faults and
#: all) instead of coming from the heap it keeps
REUSE_MIN = 128 * 1024
_kept: dict[str, np.ndarray] = {}  # one block per kind of result, kept for reuse
#: the workspaces of recent mean-gradient results, with their views: two per shape, for the last
#: four shapes (see chainrule.backprop)
kept_workspaces: dict[tuple, list] = {}


def _block(nbytes: int, reuse: str | None) -> np.ndarray:
    if reuse is None or nbytes < REUSE_MIN:
        return np.empty(nbytes, dtype=np.uint8)
    block = _kept.get(reuse)
    # sys.getrefcount counts the dict's reference and its own argument: 2 means no array made
    # from the block is alive any more (every view of it holds a reference to it as its base)
    if block is not None and block.nbytes >= nbytes and sys.getrefcount(block) == 3:  # + `block`
        return block
    block = _kept[reuse] = np.empty(nbytes, dtype=np.uint8)
    return block


def release_memory() -> None:
    """Let go of the memory chainrule keeps for reuse: the blocks of dropped results (see
    :func:`carve`) and the workspaces of the last few mean gradients."""
    _kept.clear()
    kept_workspaces.clear()


def _arrays(shapes: Sequence[tuple[int, ...]], sizes: Sequence[int], dtype: np.dtype) -> tuple[str, str]:
    largest = tuple(shapes[max(range(len(sizes)), key=sizes.__getitem__)])
    return f"this computation's {len(shapes)} arrays", f" ({dtype.name}; the largest has shape {largest})"


def carve(dtype: np.dtype, shapes: Sequence[tuple[int, ...]], reuse: str | None = None) -> list[np.ndarray]:
    """Uninitialised C-contiguous arrays of ``dtype`` and the given shapes, views into one new block
    (or, when they are small together, separate arrays).

    ``reuse`` names a kind of result (``"mean"``, ``"per_sample"``): a block of at least
    :data:`REUSE_MIN` bytes is kept after use, one per kind, and the next call takes it again
    when no array made from it is alive any more, instead of mapping new memory and faulting it
    in page by page (for per-sample gradients that takes longer than computing them). Results
    that are still referenced are never touched; :func:`release_memory` drops the kept blocks.

    More than :data:`MEMORY_LIMIT` bytes, or a ``MemoryError`` from the allocator, raise
    :class:`ChainruleError` saying how much the arrays need (and the largest one's shape, whose
    first axis is the number of samples).
    """
    dtype = np.dtype(dtype)
    sizes = [math.prod(shape) * dtype.itemsize for shape in shapes]
    offsets, total = [], 0
    for size in sizes:
        offsets.append(total)
        total += -(-size // _ALIGN) * _ALIGN
    if total < _SMALL:  # separate arrays cost less to make than views
        return [np.empty(shape, dtype=dtype) for shape in shapes]
    if total > MEMORY_LIMIT:
        require_memory(total, *_arrays(shapes, sizes, dtype))
    try:
        block = _block(total + _ALIGN, reuse)
    except MemoryError:
        raise out_of_memory(total, *_arrays(shapes, sizes, dtype)) from None
    start = -block.__array_interface__["data"][0] % _ALIGN
    return [
        np.ndarray(shape, dtype=dtype, buffer=block, offset=start + offset) for offset, shape in zip(offsets, shapes)
    ]


def block_offsets(n: int, sizes, pad: int) -> np.ndarray:
    """Where each per-layer array of a gradient of ``n`` samples starts in one flat buffer.

    For each layer ``l = 1..L`` (position ``5 (l-1)``): ``z``, ``a``, ``dC0/da``, ``delta`` and
    the scaled ``delta`` (``n x n_l`` each, rounded up to ``pad`` elements, one cache line); then
    each sample's ``C0`` (``n``), then the total length. Plain Python that numba also compiles,
    so the compiled kernels and the NumPy views agree on one layout.
    """
    L = len(sizes) - 1
    off = np.empty(5 * L + 2, np.int64)
    at = 0
    for i in range(L):
        size = n * sizes[i + 1]
        size += -size % pad
        for k in range(5):
            off[5 * i + k] = at
            at += size
    off[5 * L] = at
    off[5 * L + 1] = at + n + (-n % pad)
    return off


@functools.lru_cache(maxsize=256)
def buffer_length(n: int, sizes: tuple[int, ...], pad: int) -> int:
    """The length of the flat buffer :func:`block_offsets` lays out."""
    return int(block_offsets(n, sizes, pad)[-1])


def pad_of(dtype: np.dtype) -> int:
    """Elements of ``dtype`` in one cache line: the unit :func:`block_offsets` rounds up to."""
    return _ALIGN // np.dtype(dtype).itemsize


def layer_views(buf: np.ndarray, n: int, sizes: Sequence[int]) -> tuple[list[list[np.ndarray]], np.ndarray]:
    """The per-layer arrays of a buffer laid out by :func:`block_offsets`: five lists (``z``, ``a``,
    ``dC0/da``, ``delta``, scaled ``delta``; one ``(n, n_l)`` view per layer) and ``C0`` (``n``)."""
    off = block_offsets(n, sizes, pad_of(buf.dtype)).tolist()
    L = len(sizes) - 1
    kinds: list[list[np.ndarray]] = [[] for _ in range(5)]
    for i in range(L):
        m = sizes[i + 1]
        for k in range(5):
            start = off[5 * i + k]
            kinds[k].append(buf[start : start + n * m].reshape(n, m))
    return kinds, buf[off[5 * L] : off[5 * L] + n]
