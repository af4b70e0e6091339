"""One safe reader for ``.npz`` archives: every header checked before any data is read.

``numpy.load`` trusts a file: it inflates each member whole before anything looks at it (a 7 MB
file can inflate to gigabytes), it allocates whatever shape a header claims (``(10**9, 10**9)``
raises a raw ``MemoryError``), and a broken archive surfaces as ``BadZipFile``, ``zlib.error``,
``EOFError`` or ``ValueError`` from deep inside ``zipfile``. This module reads archives written by
``numpy.savez``/``savez_compressed`` in steps, each bounded:

1. the file is opened with :func:`chainrule._files.open_regular` (regular files only: a device or
   FIFO is refused at once) and its zip directory read; a broken directory is a
   :class:`~chainrule.errors.ChainruleError` naming the path;
2. for each member that is needed, the zip entry is checked (no encryption, stored or deflated
   only, a name ``NAME.npy``, a compressed size within the file) and then only its ``.npy`` header
   (at most 64 KiB) is read: dtype, shape and order. Object and structured dtypes are refused
   (chainrule never unpickles); the caller checks dtype and shape against what it expects;
3. the data size the header implies is checked against the member's size in the zip directory,
   against what its compressed bytes can hold (at most :data:`MAX_DEFLATE_RATIO` to one deflated),
   against the caller's ``max_bytes`` and against the memory available, all before anything is
   allocated;
4. the data is read in chunks into one preallocated array (peak memory: the array itself), and
   the member's CRC-32 is checked at its end: a corrupt member is a ``ChainruleError``.
"""

from __future__ import annotations

import contextlib
import errno
import io
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from ._files import as_path, naming, open_regular
from ._memory import human_bytes
from ._validation import not_real_numbers
from .errors import ChainruleError, shown

__all__ = ["MAX_DEFLATE_RATIO", "Header", "NpzArchive", "available_memory", "read_data_arrays", "read_npz"]

#: deflate cannot compress better than about 1032 to 1; a member that claims more is lying
MAX_DEFLATE_RATIO = 1100
#: the largest ``.npy`` header read (numpy writes a few hundred bytes; numpy itself refuses > 10000)
MAX_HEADER_BYTES = 1 << 16
#: members of an archive at most (a model has 2 L + 1)
MAX_MEMBERS = 10_000
_CHUNK = 1 << 20
_MAGIC = b"\x93NUMPY"
_HEADER_LENGTH = {1: "<H", 2: "<I", 3: "<I"}
#: what a corrupt archive raises from inside zipfile, zlib and the header parser
_CORRUPT = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    struct.error,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    SyntaxError,
    RecursionError,
    NotImplementedError,
    RuntimeError,
    UnicodeError,
)


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), or ``None`` if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


@dataclass(frozen=True)
class Header:
    """What a member's ``.npy`` header says: its dtype, shape and order, and the bytes of data."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    fortran_order: bool
    nbytes: int
    #: bytes of the member before the data (magic, header length, header)
    offset: int
    #: the archive the member is in
    path: Path | None = None


def numeric_only(h: Header) -> None:
    """A header check for data arrays: bool, integer or floating-point dtypes only (no records)."""
    if h.dtype.kind not in "biuf" or h.dtype.fields is not None:
        raise not_real_numbers(h.name, h.path, h.dtype)


class NpzArchive:
    """An open ``.npz`` archive read member by member, headers first::

        with NpzArchive(path, what="model file") as z:
            h = z.header("W1")  # reads the header only: h.dtype, h.shape, h.nbytes
            W1 = z.read("W1")  # then the data, bounded and CRC-checked

    Errors: a missing file is a ``FileNotFoundError``; a device, FIFO or folder, a broken zip,
    an encrypted or bzip2/lzma member, a bad header, an object dtype, a size beyond the bounds
    and a CRC mismatch are :class:`~chainrule.errors.ChainruleError` naming the path.
    """

    def __init__(self, path: Any, what: str = "file", *, name: str = "path") -> None:
        self.path: Path = as_path(name, path)
        self.what = what
        self._stack: Any = None
        self._headers: dict[str, Header] = {}

    # ------------------------------------------------------------------ opening
    def __enter__(self) -> NpzArchive:
        stack = contextlib.ExitStack()
        try:
            fh = stack.enter_context(open_regular(self.path, self.what))
            self._disk_size = os.fstat(fh.fileno()).st_size
            with self._errors("", lead=f"{self.path} is not an .npz archive (or truncated)"):
                self._zip = stack.enter_context(zipfile.ZipFile(fh))
                infos = self._zip.infolist()
            self._members = self._index(infos)
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def __exit__(self, *exc: Any) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def _index(self, infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
        if len(infos) > MAX_MEMBERS:
            raise self._error(f"it has {len(infos)} members; at most {MAX_MEMBERS} are read")
        members: dict[str, zipfile.ZipInfo] = {}
        self._others: list[str] = []
        for info in infos:
            if not info.filename.endswith(".npy"):
                self._others.append(info.filename)
                continue
            key = info.filename[: -len(".npy")]
            if key in members:
                raise self._error(f"it holds the array {shown(key)} twice")
            members[key] = info
        return members

    def _error(self, text: str) -> ChainruleError:
        return ChainruleError(f"{self.path} is not a readable .npz {self.what}: {text}")

    @contextlib.contextmanager
    def _errors(self, doing: str, lead: str | None = None) -> Iterator[None]:
        """Turn what a corrupt archive raises inside zipfile, zlib and numpy into a ChainruleError."""
        lead = lead or f"{self.path} is corrupt or truncated ({doing})"
        try:
            yield
        except ChainruleError:
            raise
        except MemoryError:
            raise ChainruleError(f"{self.path}: not enough memory ({doing or 'opening it'})") from None
        except _CORRUPT as exc:
            raise ChainruleError(f"{lead}: {shown(str(exc) or type(exc).__name__)}") from None
        except OSError as exc:
            if exc.errno is None or exc.errno == errno.EINVAL:  # a seek to an impossible offset
                raise ChainruleError(f"{lead}: {shown(str(exc))}") from None
            raise naming(exc, self.path) from None

    # ------------------------------------------------------------------ members
    @property
    def names(self) -> tuple[str, ...]:
        """The arrays in the archive (member names without ``.npy``), in archive order."""
        return tuple(self._members)

    @property
    def other_members(self) -> tuple[str, ...]:
        """Members that are not ``.npy`` arrays (never read)."""
        return tuple(self._others)

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = self._members.get(name)
        if info is None:
            raise self._error(f"it has no array {shown(name)} (arrays: {shown(list(self._members))})")
        if info.flag_bits & 0x1:
            raise self._error(f"its array {name!r} is encrypted; chainrule reads unencrypted archives only")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise self._error(
                f"its array {name!r} uses zip compression method {info.compress_type}; "
                "chainrule reads stored or deflated members (numpy.savez, numpy.savez_compressed)"
            )
        if info.compress_size > self._disk_size or info.header_offset > self._disk_size:
            raise ChainruleError(
                f"{self.path} is corrupt or truncated: its array {name!r} claims "
                f"{info.compress_size} bytes in a file of {self._disk_size}"
            )
        return info

    def header(self, name: str) -> Header:
        """Read and check the ``.npy`` header of ``name`` (no data is read)."""
        if name in self._headers:
            return self._headers[name]
        info = self._info(name)
        with self._errors(f"reading the header of {name!r}"), self._zip.open(info) as fp:
            h = self._read_header(name, fp)
            if info.file_size != h.offset + h.nbytes:
                raise ChainruleError(
                    f"{self.path} is corrupt: the array {name!r} is {info.file_size} bytes in the archive, "
                    f"its header says {h.offset + h.nbytes}"
                )
        self._headers[name] = h
        return h

    def _read_header(self, name: str, fp: IO[bytes]) -> Header:
        magic = _read_exactly(fp, 8)
        if magic[:6] != _MAGIC:
            raise self._error(f"its member {name!r} is not a .npy array")
        major, minor = magic[6], magic[7]
        fmt = _HEADER_LENGTH.get(major)
        if fmt is None or minor != 0:
            raise self._error(f"its array {name!r} has .npy format version {major}.{minor}; known: 1.0, 2.0, 3.0")
        size_bytes = _read_exactly(fp, struct.calcsize(fmt))
        (length,) = struct.unpack(fmt, size_bytes)
        if length > MAX_HEADER_BYTES:
            raise self._error(f"the header of its array {name!r} claims {length} bytes (at most {MAX_HEADER_BYTES})")
        text = _read_exactly(fp, length)
        if major == 3:  # UTF-8 text; numpy's 2.0 reader takes latin-1, which is the same for any plain dtype
            text = text.decode("utf-8").encode("latin-1")
        reader = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = reader(io.BytesIO(size_bytes + text), max_header_size=MAX_HEADER_BYTES)
        if dtype.hasobject:
            raise ChainruleError(f"{self.path} holds pickled Python objects in {name!r}; chainrule never unpickles")
        if dtype.fields is not None or dtype.subdtype is not None or dtype.kind == "V":
            raise self._error(
                f"its array {name!r} has a structured dtype {shown(str(dtype))}; chainrule reads plain arrays"
            )
        if any(n < 0 for n in shape) or len(shape) > 64:
            raise self._error(f"its array {name!r} has an impossible shape {shown(shape)}")
        nbytes = math.prod(shape) * dtype.itemsize
        return Header(name, dtype, tuple(shape), bool(fortran_order), nbytes, 8 + len(size_bytes) + length, self.path)

    def read(self, name: str, *, max_bytes: int | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """The array ``name``: header checked, size bounded, data read in chunks, CRC checked.

        ``out``, a C-contiguous array of the header's shape and dtype, receives the data in place
        (no second copy); it is returned.
        """
        h = self.header(name)
        info = self._members[name]
        self._check_size(h, info, max_bytes)
        count = math.prod(h.shape)
        direct = (
            out is not None
            and not (h.fortran_order and len(h.shape) > 1)
            and out.dtype == h.dtype
            and out.shape == h.shape
            and out.flags.c_contiguous
        )
        with self._errors(f"reading the array {name!r}"), self._zip.open(info) as fp:
            _read_exactly(fp, h.offset)
            flat = out.reshape(-1) if direct else np.empty(count, dtype=h.dtype)
            view = memoryview(flat.view(np.uint8)) if h.nbytes else memoryview(b"")
            at = 0
            while at < h.nbytes:
                got = fp.readinto(view[at : at + _CHUNK])
                if not got:
                    raise ChainruleError(
                        f"{self.path} is corrupt or truncated: the array {name!r} ends after {at} of {h.nbytes} bytes"
                    )
                at += got
            if fp.read(1):  # also reaches the end of the member, where zipfile checks its CRC-32
                raise ChainruleError(f"{self.path} is corrupt: the array {name!r} is longer than its header says")
        if direct:
            return out
        shape = h.shape
        array = flat.reshape(shape[::-1]).T if h.fortran_order and len(shape) > 1 else flat.reshape(shape)
        if out is not None:
            np.copyto(out, array)
            return out
        return array

    def _check_size(self, h: Header, info: zipfile.ZipInfo, max_bytes: int | None) -> None:
        limits = []
        if info.compress_type == zipfile.ZIP_STORED:
            limits.append((info.compress_size, f"its {info.compress_size} bytes in the archive (stored)"))
        else:
            packed = max(info.compress_size, 1024)
            limits.append((packed * MAX_DEFLATE_RATIO, f"{MAX_DEFLATE_RATIO} times its {packed} bytes in the archive"))
        if max_bytes is not None:
            limits.append((max_bytes, f"the limit of {human_bytes(max_bytes)}"))
        memory = available_memory()
        if memory is not None:
            limits.append((memory, f"the {human_bytes(memory)} of memory available"))
        for limit, text in limits:
            if h.nbytes > limit:
                raise ChainruleError(
                    f"{self.path}: the array {h.name!r} claims shape {shown(h.shape)} of {h.dtype}, "
                    f"which needs {human_bytes(h.nbytes)}, more than {text}; refused before reading it"
                )


def _read_exactly(fp: IO[bytes], n: int) -> bytes:
    data = fp.read(n)
    if len(data) != n:
        raise EOFError(f"expected {n} bytes, got {len(data)}")
    return data


def read_npz(
    path: Any,
    *,
    what: str = "file",
    names: Iterable[str] | None = None,
    check: Callable[[Header], None] | None = None,
    allow_extra: bool = True,
    max_bytes: int | None = None,
) -> dict[str, np.ndarray]:
    """The arrays ``names`` (default: every array) of the ``.npz`` at ``path``, read safely.

    ``check(header)`` is called for each array before any of its data is read and raises
    :class:`~chainrule.errors.ChainruleError` for a dtype or shape the caller does not accept.
    Members not in ``names`` are not read; with ``allow_extra=False`` they are refused. Every
    header is checked before any array's data is read; ``max_bytes`` bounds the total.
    """
    with NpzArchive(path, what) as z:
        wanted = list(z.names) if names is None else list(names)
        if not allow_extra:
            extra = sorted(set(z.names) - set(wanted)) + sorted(z.other_members)
            if extra:
                raise z._error(f"unexpected members {shown(extra)}")
        missing = [n for n in wanted if n not in z.names]
        if missing:
            raise ChainruleError(
                f"{z.path} needs {'an array' if len(wanted) == 1 else 'arrays'} named {' and '.join(wanted)}; "
                f"it has {', '.join(z.names) or 'none'}"
            )
        headers = [z.header(n) for n in wanted]
        for h in headers:
            if check is not None:
                check(h)
        total = sum(h.nbytes for h in headers)
        if max_bytes is not None and total > max_bytes:
            raise ChainruleError(
                f"{z.path}: its arrays need {human_bytes(total)}, more than the limit of {human_bytes(max_bytes)}"
            )
        return {n: z.read(n) for n in wanted}


def read_data_arrays(
    path: Any, names: Iterable[str] = ("X", "Y"), *, what: str = "data file", max_bytes: int | None = None
) -> dict[str, np.ndarray]:
    """The numeric arrays ``names`` of a data ``.npz``; other members are ignored (never read).

    Arrays that are not bool, integer or float (complex, dates, text, records, objects) are refused
    with a :class:`~chainrule.errors.ChainruleError` naming the array and its dtype.
    """
    return read_npz(path, what=what, names=names, check=numeric_only, allow_extra=True, max_bytes=max_bytes)
