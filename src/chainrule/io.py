"""Model files: a network's weights and biases in ``.npz``, its description in JSON metadata.

A file holds arrays ``W1..WL`` (and ``b1..bL``) and one string array ``metadata``: JSON with the
format name and version, layer sizes, activations (with their parameters), whether there are
biases, the dtype, optionally the loss the network was trained with, and a SHA-256 checksum of
the arrays. Files are

* written atomically: to a temporary file in the same folder, flushed to disk, then renamed over
  the target, so a crash never leaves a half-written model behind;
* read with ``allow_pickle=False``: a file can never run code;
* validated: a truncated, edited or foreign file raises :class:`~chainrule.errors.ChainruleError`
  that says what is wrong, never a crash deep inside NumPy or a silently wrong model.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ChainruleError
from .losses import get_loss
from .network import Network

__all__ = ["FORMAT", "VERSION", "load_network", "read_metadata", "save_network"]

FORMAT = "chainrule-network"
VERSION = 1


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_network(net: Network, path: str | os.PathLike, *, loss: str | None = None, info: dict | None = None) -> Path:
    """Write ``net`` to ``path`` atomically; returns the path.

    ``loss`` (a loss name) and ``info`` (any JSON-serialisable dict) are kept in the metadata.
    """
    path = Path(path)
    net.check()  # a file on disk is always a loadable model
    arrays = {f"W{l}": W for l, W in net.W.items()}
    if net.b is not None:
        arrays.update({f"b{l}": b for l, b in net.b.items()})
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "sizes": list(net.sizes),
        "activations": [{"name": g.name, **g.params()} for g in net.g],
        "bias": net.bias,
        "dtype": net.dtype.name,
        "loss": None if loss is None else get_loss(loss).name,
        "info": info or {},
        "sha256": _checksum(arrays),
    }
    try:
        text = json.dumps(meta)
    except TypeError as exc:
        raise ChainruleError(f"info must be JSON-serialisable: {exc}") from None
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, metadata=np.array(text), **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _open(path: Path) -> Any:
    if not path.exists():
        raise ChainruleError(f"no model file at {path}")
    if not zipfile.is_zipfile(path):
        raise ChainruleError(f"{path} is not a chainrule model file: not an .npz archive (or truncated)")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ChainruleError(f"{path} is corrupt or truncated: {exc}") from None


def _read(data: Any, path: Path, name: str) -> np.ndarray:
    try:
        return data[name]
    except ValueError as exc:
        if "pickle" in str(exc):
            raise ChainruleError(
                f"{path} holds pickled Python objects in {name!r}; chainrule never unpickles"
            ) from None
        raise ChainruleError(f"{path} is corrupt: {name!r} cannot be read ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise ChainruleError(f"{path} is corrupt or truncated: {name!r} cannot be read ({exc})") from None


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON metadata of a model file, checked for format and version."""
    path = Path(path)
    with _open(path) as data:
        return _metadata(data, path)


def _metadata(data: Any, path: Path) -> dict[str, Any]:
    if "metadata" not in data.files:
        raise ChainruleError(
            f"{path} is not a chainrule model file: it has no metadata (arrays: {', '.join(data.files)})"
        )
    raw = _read(data, path, "metadata")
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise ChainruleError(f"{path} is not a chainrule model file: its metadata is not a JSON string")
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise ChainruleError(f"{path} has corrupt metadata: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ChainruleError(
            f"{path} is not a chainrule model file (format {meta.get('format') if isinstance(meta, dict) else None!r})"
        )
    if meta.get("version") != VERSION:
        raise ChainruleError(
            f"{path} is format version {meta.get('version')!r}; this chainrule reads version {VERSION}"
        )
    for key in ("sizes", "activations", "bias", "dtype", "sha256"):
        if key not in meta:
            raise ChainruleError(f"{path} has incomplete metadata: no {key!r}")
    return meta


def load_network(path: str | os.PathLike) -> Network:
    """Read a network written by :func:`save_network` (``Network.save``), validating everything."""
    path = Path(path)
    with _open(path) as data:
        meta = _metadata(data, path)
        sizes = meta["sizes"]
        if not isinstance(sizes, list) or len(sizes) < 2:
            raise ChainruleError(f"{path} has corrupt metadata: sizes = {sizes!r}")
        L = len(sizes) - 1
        names = [f"W{l}" for l in range(1, L + 1)] + ([f"b{l}" for l in range(1, L + 1)] if meta["bias"] else [])
        expected = set(names) | {"metadata"}
        if set(data.files) != expected:
            missing, extra = expected - set(data.files), set(data.files) - expected
            raise ChainruleError(
                f"{path} does not match its metadata: missing arrays {sorted(missing)}, unexpected {sorted(extra)}"
            )
        arrays = {name: _read(data, path, name) for name in names}
    if _checksum(arrays) != meta["sha256"]:
        raise ChainruleError(
            f"{path} was modified after it was saved: its arrays do not match the checksum in its metadata"
        )
    for name, a in arrays.items():
        if a.dtype != np.dtype(meta["dtype"]):
            raise ChainruleError(f"{path}: {name} has dtype {a.dtype}, the metadata says {meta['dtype']}")
    net = Network.from_weights(
        [arrays[f"W{l}"] for l in range(1, L + 1)],
        [arrays[f"b{l}"] for l in range(1, L + 1)] if meta["bias"] else None,
        activation=meta["activations"],
        dtype=meta["dtype"],
    )
    if list(net.sizes) != sizes:
        raise ChainruleError(
            f"{path} does not match its metadata: the arrays give sizes {list(net.sizes)}, the metadata {sizes}"
        )
    return net
