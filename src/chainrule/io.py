"""Model files: a network's weights and biases in ``.npz``, its description in JSON metadata.

A file holds arrays ``W1..WL`` (and ``b1..bL``) and one string array ``metadata``: JSON with the
format name and version, layer sizes, activations (with their parameters), whether there are
biases, the dtype, optionally the loss the network was trained with, free ``info`` (the CLI keeps
the input scaling and the class labels there), and a SHA-256 checksum of the metadata (as
canonical JSON) and of the arrays. Files are

* written atomically (:func:`chainrule._files.atomic_write`): to a temporary file in the same
  folder, flushed to disk, then renamed over the target, so a crash never leaves a half-written
  model behind; temporaries of killed saves are removed by a later save of the same target; a new
  file gets the permissions of any new file (the umask), a file written over keeps its own;
* read safely (:mod:`chainrule._npz`): regular files only, every array's header checked against
  the metadata before any data is read, bounded memory, never unpickled;
* validated: every metadata field is checked (types, known names, ranges, nesting, lengths) and
  the checksum covers it, so a truncated, edited or foreign file raises
  :class:`~chainrule.errors.ChainruleError` that says what is wrong, never a crash deep inside
  NumPy or a silently different model.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ._files import as_path, atomic_write
from ._npz import NpzArchive
from .activations import ACTIVATIONS, get_activation
from .data import Standardizer
from .errors import ChainruleError, shown, unknown_name
from .losses import LOSSES, get_loss
from .network import _FILES, Network, n_parameters, require_network

__all__ = ["FORMAT", "VERSION", "load_network", "load_network_and_metadata", "read_metadata", "save_network"]

FORMAT = "chainrule-network"
VERSION = 2

#: bounds on what a model file may claim, checked before anything is allocated
MAX_LAYERS = 1000
MAX_LAYER_SIZE = 10**7
MAX_PARAMETERS = 2 * 10**9
MAX_METADATA_CHARS = 1 << 20
MAX_JSON_DEPTH = 32
MAX_STRING = 10_000
MAX_LABEL = 200
_MAX_INT_DIGITS = 100
_KEYS = ("format", "version", "sizes", "activations", "bias", "dtype", "loss", "info", "sha256")
_SHA256 = re.compile(r"[0-9a-f]{64}")


# ---------------------------------------------------------------------- checksum
def _canonical(meta: dict[str, Any]) -> bytes:
    """The metadata (less its checksum) as canonical JSON: sorted keys, no spaces, ASCII."""
    body = {k: v for k, v in meta.items() if k != "sha256"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _checksum(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of the canonical metadata and of every array (name, dtype, shape, bytes)."""
    h = hashlib.sha256()
    h.update(f"{FORMAT} {VERSION}\n".encode())
    h.update(_canonical(meta))
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"\n{name}:{a.dtype.str}:{a.shape}\n".encode())
        h.update(a.data)
    return h.hexdigest()


# ---------------------------------------------------------------------- JSON with guards
def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ChainruleError(f"an integer of {len(text)} digits (at most {_MAX_INT_DIGITS})")
    return int(text)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ChainruleError(f"the key {shown(key)} twice in one object")
        out[key] = value
    return out


def _parse_json(text: str) -> Any:
    """``text`` as JSON, refusing huge integers, duplicate keys, deep nesting and long strings."""
    try:
        # NaN and Infinity parse (free info may hold them); the schema checks the fields that must be finite
        value = json.loads(text, parse_int=_parse_int, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise ChainruleError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise ChainruleError(f"not valid JSON ({exc})") from None
    except ValueError as exc:  # ChainruleError from a hook, or int() beyond Python's digit limit
        raise ChainruleError(str(exc) if isinstance(exc, ChainruleError) else f"bad JSON ({shown(str(exc))})") from None
    _check_tree(value)
    return value


def _check_tree(value: Any) -> None:
    """Nesting depth and string lengths of a parsed JSON value, walked without recursion."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise ChainruleError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            items = list(v.items()) if isinstance(v, dict) else [(None, x) for x in v]
            for key, x in items:
                if key is not None and len(key) > MAX_STRING:
                    raise ChainruleError(f"a key of {len(key)} characters (at most {MAX_STRING}): {shown(key)}")
                stack.append((x, depth + 1))
        elif isinstance(v, str) and len(v) > MAX_STRING:
            raise ChainruleError(f"a string of {len(v)} characters (at most {MAX_STRING}): {shown(v)}")


# ---------------------------------------------------------------------- the metadata schema
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _validate(meta: Any) -> dict[str, Any]:
    """Check every field of parsed metadata; raises ChainruleError naming the field (no path)."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        fmt = meta.get("format") if isinstance(meta, dict) else None
        raise _Foreign(f"format {shown(fmt)}")
    version = meta.get("version")
    if version != VERSION or not _is_int(version):
        if version == 1 and _is_int(version):
            raise ChainruleError(
                "is a version 1 model file, whose checksum does not cover its metadata; this chainrule reads "
                f"version {VERSION} only: save the network again"
            )
        raise ChainruleError(f"is format version {shown(version)}; this chainrule reads version {VERSION}")
    missing = [k for k in _KEYS if k not in meta]
    if missing:
        raise ChainruleError(f"has incomplete metadata: no {', '.join(map(repr, missing))}")
    extra = sorted(set(meta) - set(_KEYS))
    if extra:
        raise ChainruleError(f"has unknown metadata fields {shown(extra)}")

    sizes = meta["sizes"]
    if not (isinstance(sizes, list) and 2 <= len(sizes) <= MAX_LAYERS + 1 and all(_is_int(n) for n in sizes)):
        raise ChainruleError(
            f"has corrupt metadata: sizes must be a list of 2 to {MAX_LAYERS + 1} whole numbers; got {shown(sizes)}"
        )
    if not all(1 <= n <= MAX_LAYER_SIZE for n in sizes):
        raise ChainruleError(f"has corrupt metadata: each size must be 1..{MAX_LAYER_SIZE}; got {shown(sizes)}")
    bias = meta["bias"]
    if not isinstance(bias, bool):
        raise ChainruleError(f"has corrupt metadata: bias must be true or false; got {shown(bias)}")
    n = n_parameters(sizes, bias)
    if n > MAX_PARAMETERS:
        raise ChainruleError(
            f"has corrupt metadata: sizes {shown(sizes)} give {n} parameters (at most {MAX_PARAMETERS})"
        )
    if meta["dtype"] not in ("float32", "float64"):
        raise ChainruleError(f"has corrupt metadata: dtype must be 'float32' or 'float64'; got {shown(meta['dtype'])}")
    loss = meta["loss"]
    if loss is not None and not (isinstance(loss, str) and loss in LOSSES and get_loss(loss).name == loss):
        raise ChainruleError(
            f"has corrupt metadata: loss must be null or one of {', '.join(sorted(LOSSES))}; got {shown(loss)}"
        )
    sha = meta["sha256"]
    if not (isinstance(sha, str) and _SHA256.fullmatch(sha)):
        raise ChainruleError(f"has corrupt metadata: sha256 must be 64 hex digits; got {shown(sha)}")
    _validate_activations(meta["activations"], len(sizes) - 1)
    info = meta["info"]
    if not isinstance(info, dict):
        raise ChainruleError(f"has corrupt metadata: info must be an object; got {shown(info)}")
    _validate_info(info, sizes)
    return meta


class _Foreign(ChainruleError):
    """Metadata of something else than a chainrule model."""


def _validate_activations(acts: Any, L: int) -> None:
    if not (isinstance(acts, list) and len(acts) == L):
        raise ChainruleError(
            f"has corrupt metadata: activations must be a list of {L}, one per layer; got {shown(acts)}"
        )
    for l, spec in enumerate(acts, start=1):
        if not (isinstance(spec, dict) and isinstance(spec.get("name"), str)):
            raise ChainruleError(
                f"has corrupt metadata: activation of layer {l} must be {{'name': ...}}; got {shown(spec)}"
            )
        if spec["name"] not in ACTIVATIONS:
            raise unknown_name("activation", spec["name"], ACTIVATIONS)
        params = {k: v for k, v in spec.items() if k != "name"}
        if not all(_is_number(v) for v in params.values()):
            raise ChainruleError(f"has corrupt metadata: activation of layer {l} has bad parameters {shown(params)}")
        try:
            g = get_activation(dict(spec))
        except ChainruleError as exc:
            raise ChainruleError(f"has corrupt metadata: activation of layer {l}: {exc}") from None
        if {"name": g.name, **g.params()} != spec:
            raise ChainruleError(
                f"has corrupt metadata: activation of layer {l} is {shown(spec)}, not in the saved form"
            )


def _validate_info(info: dict[str, Any], sizes: list[int]) -> None:
    """The info keys the CLI reads back: ``input_scaling`` and ``classes``."""
    n_0, n_L = sizes[0], sizes[-1]
    if "input_scaling" in info:
        s = info["input_scaling"]
        if not (isinstance(s, dict) and set(s) == {"mean", "scale"}):
            raise ChainruleError(
                f"has corrupt metadata: info.input_scaling must be {{'mean': [...], 'scale': [...]}}; got {shown(s)}"
            )
        for key in ("mean", "scale"):
            v = s[key]
            if not (isinstance(v, list) and len(v) == n_0 and all(_is_number(x) for x in v)):
                raise ChainruleError(
                    f"has corrupt metadata: info.input_scaling.{key} must be {n_0} finite numbers (one per input); "
                    f"got {shown(v)}"
                )
        try:  # the rules the scaling itself holds to: every scale > 0 and normal, so dividing cannot overflow
            Standardizer.from_dict(s)
        except ChainruleError as exc:
            raise ChainruleError(f"has corrupt metadata: info.input_scaling: {exc}") from None
    if "classes" in info:
        c = info["classes"]
        expected = max(n_L, 2)
        if not (isinstance(c, list) and len(c) == expected):
            raise ChainruleError(
                f"has corrupt metadata: info.classes must be a list of {expected} labels (one per class); "
                f"got {shown(c)}"
            )
        for label in c:
            if not (_is_number(label) or (isinstance(label, str) and len(label) <= MAX_LABEL)):
                raise ChainruleError(
                    f"has corrupt metadata: a class label must be a finite number or a text of at most {MAX_LABEL} "
                    f"characters; got {shown(label)}"
                )
        if len({(isinstance(x, str), x) for x in c}) != len(c):
            raise ChainruleError(f"has corrupt metadata: info.classes has repeated labels: {shown(c)}")


# ---------------------------------------------------------------------- save
def save_network(net: Network, path: str | os.PathLike, *, loss: str | None = None, info: dict | None = None) -> Path:
    """Write ``net`` to ``path`` atomically; returns the path.

    ``loss`` (a loss name) and ``info`` (a JSON-serialisable dict) are kept in the metadata. The
    file is checked as :func:`load_network` would check it before anything is written, so a file on
    disk is always a loadable model.
    """
    require_network(net)
    path = as_path("path", path)
    net.check()
    if info is not None and not isinstance(info, dict):
        raise ChainruleError(f"info must be a dict (or None); got {shown(info)} ({type(info).__name__})")
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
        "sha256": "0" * 64,
    }
    try:
        text = json.dumps(meta)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ChainruleError(f"info must be JSON-serialisable: {shown(str(exc))}") from None
    try:
        meta = _validate(_parse_json(text))  # as the loader will read it: int keys become strings, tuples lists
    except ChainruleError as exc:
        raise ChainruleError(
            f"cannot save this model: its metadata {exc}".replace("has corrupt metadata: ", "")
        ) from None
    meta["sha256"] = _checksum(meta, arrays)
    text = json.dumps(meta)
    if len(text) > MAX_METADATA_CHARS:
        raise ChainruleError(
            f"info is too large: the metadata would be {len(text)} characters (at most {MAX_METADATA_CHARS})"
        )
    return atomic_write(path, lambda fh: np.savez(fh, metadata=np.array(text), **arrays))


# ---------------------------------------------------------------------- load
def _read_meta(z: NpzArchive) -> dict[str, Any]:
    path = z.path
    if "metadata" not in z.names:
        listed = ", ".join(z.names + z.other_members) or "none"
        raise ChainruleError(
            f"{path} is not a chainrule model file: it has no metadata (arrays: {shown(listed)[1:-1]})"
        )
    h = z.header("metadata")
    if h.dtype.kind != "U" or h.shape != ():
        raise ChainruleError(f"{path} is not a chainrule model file: its metadata is not a JSON string")
    if h.dtype.itemsize > 4 * MAX_METADATA_CHARS:
        raise ChainruleError(
            f"{path} is not a chainrule model file: its metadata is {h.dtype.itemsize // 4} characters "
            f"(at most {MAX_METADATA_CHARS})"
        )
    text = str(z.read("metadata")[()])
    try:
        return _validate(_parse_json(text))
    except _Foreign as exc:
        raise ChainruleError(f"{path} is not a chainrule model file ({exc})") from None
    except ChainruleError as exc:
        msg = str(exc)
        if not msg.startswith(("is ", "has ")):
            msg = f"has corrupt metadata: {msg}"
        raise ChainruleError(f"{path} {msg}") from None


def _expected(meta: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    sizes, L = meta["sizes"], len(meta["sizes"]) - 1
    shapes = {f"W{l}": (sizes[l], sizes[l - 1]) for l in range(1, L + 1)}
    if meta["bias"]:
        shapes.update({f"b{l}": (sizes[l],) for l in range(1, L + 1)})
    return shapes


def load_network_and_metadata(path: str | os.PathLike) -> tuple[Network, dict[str, Any]]:
    """The network in a model file and its validated metadata, from one read of the file.

    The metadata (format, sizes, activations, ``info`` with the CLI's ``input_scaling`` and
    ``classes``, ...) is checked field by field, every array's header is checked against it before
    any data is read, and the checksum covers both. Raises ChainruleError (OSError for a missing
    file) for anything else than an unmodified model file.
    """
    path = as_path("path", path)
    with NpzArchive(path, "model file") as z:
        meta = _read_meta(z)
        shapes = _expected(meta)
        present = set(z.names) - {"metadata"}
        if present != set(shapes) or z.other_members:
            missing = sorted(set(shapes) - present)
            extra = sorted(present - set(shapes)) + sorted(z.other_members)
            raise ChainruleError(
                f"{path} does not match its metadata: missing arrays {shown(missing)}, unexpected {shown(extra)}"
            )
        dtype = np.dtype(meta["dtype"])
        for name, shape in shapes.items():  # every header before any data
            h = z.header(name)
            if h.dtype != dtype or h.shape != shape:
                raise ChainruleError(
                    f"{path} does not match its metadata: {name} is {shown(h.shape)} of {h.dtype}, "
                    f"the metadata says {shape} of {dtype}"
                )
        L = len(meta["sizes"]) - 1
        try:  # the network's own parameter memory receives the arrays: a model takes its size once
            net = Network._unfilled(meta["sizes"], [dict(a) for a in meta["activations"]], meta["bias"], dtype)
        except ChainruleError as exc:
            raise ChainruleError(f"{path} holds an unusable model: {exc}") from None
        places = {f"W{l}": net.W[l] for l in range(1, L + 1)}
        if net.b is not None:
            places.update({f"b{l}": net.b[l] for l in range(1, L + 1)})
        arrays = {name: z.read(name, out=places[name]) for name in shapes}
    if _checksum(meta, arrays) != meta["sha256"]:
        raise ChainruleError(
            f"{path} was modified after it was saved: its metadata and arrays do not match the checksum it holds"
        )
    try:
        net.check()
    except ChainruleError as exc:
        raise ChainruleError(f"{path} holds an unusable model: {exc}") from None
    return net, meta


def load_network(path: str | os.PathLike) -> Network:
    """Read a network written by :func:`save_network` (``Network.save``), validating everything."""
    return load_network_and_metadata(path)[0]


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The validated metadata of a model file, with the same checks as :func:`load_network`.

    ``meta["info"].get("input_scaling")`` and ``meta["info"].get("classes")``, when present, have
    been checked against the network's input and output sizes.
    """
    return load_network_and_metadata(path)[1]


_FILES.update(save=save_network, load=load_network)
