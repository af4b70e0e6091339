"""Property-based fuzzing of the file readers: whatever bytes a model or data file holds, loading it
ends quickly with a model, a :class:`~chainrule.errors.ChainruleError` or an ``OSError``, never
another exception (no ``BadZipFile``, ``zlib.error``, ``MemoryError``, ``UnicodeDecodeError``, ...)."""

from __future__ import annotations

import io
import json
import os
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.io as crio
from chainrule._npz import read_data_arrays

#: examples per property; CHAINRULE_FUZZ_EXAMPLES=5000 (and HYPOTHESIS_PROFILE=dev) for a long random run
FUZZ = settings(
    max_examples=int(os.environ.get("CHAINRULE_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
SECONDS = 2.0  # per file, generously: a refusal takes milliseconds


def _base_files(folder: Path) -> dict[str, bytes]:
    """Valid model files to mutate: stored and deflated, with and without biases."""
    net = cr.Network([3, 4, 2], activation={"name": "leaky_relu", "alpha": 0.1}, output_activation="softmax", seed=0)
    info = {"classes": [0.0, 1.0], "input_scaling": {"mean": [0.0, 1.0, 2.0], "scale": [1.0, 2.0, 3.0]}}
    stored = net.save(folder / "stored.npz", loss="cross_entropy", info=info)
    with np.load(stored, allow_pickle=False) as data:
        np.savez_compressed(folder / "deflated.npz", **{k: data[k] for k in data.files})
    plain = cr.Network([2, 2], bias=False, seed=1).save(folder / "plain.npz")
    return {p.name: p.read_bytes() for p in (stored, folder / "deflated.npz", plain)}


_BASES: dict[str, bytes] = {}


def _bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    if not _BASES:
        _BASES.update(_base_files(tmp_path_factory.mktemp("bases")))
    return _BASES


def _every_reader_ends_cleanly(path: Path) -> None:
    for reader in (crio.load_network, crio.read_metadata, read_data_arrays):
        t0 = time.perf_counter()
        try:
            reader(path)
        except (cr.ChainruleError, OSError):
            pass
        # anything else propagates and fails the test, with the generated file in the report
        assert time.perf_counter() - t0 < SECONDS, f"{reader.__name__} took {time.perf_counter() - t0:.1f} s"


def _write(folder: Path, data: bytes) -> Path:
    path = folder / "fuzz.npz"
    path.write_bytes(data)
    return path


@FUZZ
@given(data=st.binary(max_size=3000))
def test_random_bytes(tmp_path_factory, data):
    _every_reader_ends_cleanly(_write(tmp_path_factory.mktemp("f"), data))


_edit = st.tuples(
    st.sampled_from(["flip", "set", "insert", "delete", "truncate"]), st.floats(0, 1), st.integers(0, 255)
)


def _mutate(data: bytes, edits: list[tuple[str, float, int]]) -> bytes:
    out = bytearray(data)
    for op, where, value in edits:
        if not out:
            break
        at = min(int(where * len(out)), len(out) - 1)
        if op == "flip":
            out[at] ^= 1 << (value % 8)
        elif op == "set":
            out[at] = value
        elif op == "insert":
            out[at:at] = bytes([value]) * (1 + value % 8)
        elif op == "delete":
            del out[at : at + 1 + value % 8]
        else:
            del out[at:]
    return bytes(out)


@FUZZ
@given(base=st.sampled_from(["stored.npz", "deflated.npz", "plain.npz"]), edits=st.lists(_edit, min_size=1, max_size=4))
def test_mutated_model_files(tmp_path_factory, base, edits):
    data = _mutate(_bases(tmp_path_factory)[base], edits)
    _every_reader_ends_cleanly(_write(tmp_path_factory.mktemp("f"), data))


def _npy(value: np.ndarray, version: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, value, version=version, allow_pickle=True)
    return buf.getvalue()


_dtypes = st.sampled_from(["<f8", "<f4", ">f8", "<i8", "|b1", "<c16", "<U5", "|S3", "<M8[D]", "O", "|V4"])
_shapes = st.lists(st.integers(0, 4), max_size=3).map(tuple)


@st.composite
def _member(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["array", "header", "bytes", "metadata"]))
    if kind == "array":
        dt, shape = np.dtype(draw(_dtypes)), draw(_shapes)
        value = np.zeros(shape, dtype=dt) if dt.kind != "O" else np.full(shape, None, dtype=object)
        return _npy(value, draw(st.sampled_from([(1, 0), (2, 0), (3, 0)])))
    if kind == "header":  # a real header, then data that may be short, long or missing
        header = io.BytesIO()
        shape = tuple(draw(st.lists(st.integers(0, 10**12), max_size=3)))
        np.lib.format.write_array_header_1_0(header, {"descr": draw(_dtypes), "fortran_order": False, "shape": shape})
        return header.getvalue() + draw(st.binary(max_size=64))
    if kind == "metadata":
        meta = draw(_json)
        return _npy(np.array(json.dumps(meta)), (1, 0))
    return draw(st.binary(max_size=200))


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
_names = st.sampled_from(["metadata.npy", "W1.npy", "W2.npy", "b1.npy", "X.npy", "Y.npy", "x.txt", "dir/", "W1"])


@FUZZ
@given(
    members=st.lists(
        st.tuples(_names, _member(), st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])), max_size=5
    )
)
def test_zips_with_random_members(tmp_path_factory, members):
    path = tmp_path_factory.mktemp("f") / "fuzz.npz"
    with zipfile.ZipFile(path, "w") as z:
        for name, data, method in members:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a duplicate name is part of the fuzz
                z.writestr(name, data, compress_type=method)
    _every_reader_ends_cleanly(path)


_fields = st.sampled_from(["format", "version", "sizes", "activations", "bias", "dtype", "loss", "info", "sha256"])


@FUZZ
@given(changes=st.dictionaries(_fields, _json, min_size=1, max_size=3), resign=st.booleans())
def test_random_metadata_values(tmp_path_factory, changes, resign):
    """Every metadata field replaced by arbitrary JSON, re-signed or not: a clear error or a model."""
    folder = tmp_path_factory.mktemp("f")
    path = _write(folder, _bases(tmp_path_factory)["stored.npz"])
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "metadata"}
        meta = json.loads(str(data["metadata"]))
    meta.update(changes)
    if resign:
        meta["sha256"] = crio._checksum(meta, arrays)
    np.savez(path, metadata=np.array(json.dumps(meta)), **arrays)
    _every_reader_ends_cleanly(path)
