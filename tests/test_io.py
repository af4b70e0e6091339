"""Model files: round trips, atomic writes, and refusal of truncated, edited, foreign and pickled files."""

import io
import json
import os
import stat
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

import chainrule as cr
import chainrule.io as crio
from chainrule._npz import read_data_arrays
from chainrule.io import read_metadata


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("loss", sorted(cr.LOSSES))
def test_round_trip_every_activation(tmp_path, dtype, bias, loss):
    acts = ["identity", "sigmoid", "tanh", "relu", {"name": "leaky_relu", "alpha": 0.2}, "softplus", "exp", "softmax"]
    net = cr.Network([3] + [4] * len(acts), activation=acts, bias=bias, dtype=dtype, seed=1)
    path = net.save(tmp_path / "model.npz", loss=loss, info={"epochs": 3})
    back = cr.Network.load(path)
    assert back.sizes == net.sizes and back.dtype == net.dtype and back.bias == bias
    assert list(back.g) == list(net.g)
    for (_, _, p), (_, _, q) in zip(net.parameters(), back.parameters()):
        np.testing.assert_array_equal(p, q)
        assert q.dtype == np.dtype(dtype)
    X = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_array_equal(net.predict(X), back.predict(X))
    meta = read_metadata(path)
    assert meta["loss"] == loss and meta["info"] == {"epochs": 3} and meta["version"] == 2


def test_save_writes_exactly_the_path_and_leaves_no_temporary_files(tmp_path):
    net = cr.Network([2, 2], seed=0)
    net.save(tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    assert cr.Network.load(tmp_path / "m").sizes == (2, 2)


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = cr.Network([2, 3], seed=0)
    old.save(path)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        cr.Network([2, 3], seed=1).save(path)
    monkeypatch.undo()
    np.testing.assert_array_equal(cr.Network.load(path).W[1], old.W[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_truncated_file(tmp_path):
    path = cr.Network([4, 5, 3], seed=0).save(tmp_path / "model.npz")
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 10):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(cr.ChainruleError, match=r"not an \.npz archive \(or truncated\)|corrupt or truncated"):
            cr.Network.load(bad)


def _rewrite(src, dst, change):
    with np.load(src, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    np.savez(dst, **arrays)


def test_edited_weights_are_detected(tmp_path):
    path = cr.Network([2, 3, 2], seed=0).save(tmp_path / "model.npz")
    _rewrite(path, tmp_path / "edited.npz", lambda a: a.__setitem__("W2", a["W2"] + 1))
    with pytest.raises(cr.ChainruleError, match=r"was modified after it was saved"):
        cr.Network.load(tmp_path / "edited.npz")


def test_edited_metadata_is_detected(tmp_path):
    path = cr.Network([2, 3, 2], seed=0).save(tmp_path / "model.npz")

    def change_sizes(a):
        meta = json.loads(str(a["metadata"]))
        meta["sizes"] = [2, 4, 2]
        a["metadata"] = np.array(json.dumps(meta))

    _rewrite(path, tmp_path / "sizes.npz", change_sizes)
    with pytest.raises(cr.ChainruleError, match=r"does not match its metadata|do not match the checksum"):
        cr.Network.load(tmp_path / "sizes.npz")

    def drop_array(a):
        del a["b2"]

    _rewrite(path, tmp_path / "dropped.npz", drop_array)
    with pytest.raises(cr.ChainruleError, match=r"does not match its metadata: missing arrays \['b2'\]"):
        cr.Network.load(tmp_path / "dropped.npz")

    def bad_activation(a):
        meta = json.loads(str(a["metadata"]))
        meta["activations"][0]["name"] = "swish"
        a["metadata"] = np.array(json.dumps(meta))

    _rewrite(path, tmp_path / "act.npz", bad_activation)
    with pytest.raises(cr.ChainruleError, match=r"unknown activation 'swish'"):
        cr.Network.load(tmp_path / "act.npz")


def test_foreign_files(tmp_path):
    np.savez(tmp_path / "foreign.npz", x=np.ones(3))
    with pytest.raises(cr.ChainruleError, match=r"is not a chainrule model file: it has no metadata \(arrays: x\)"):
        cr.Network.load(tmp_path / "foreign.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(cr.ChainruleError, match=r"not an \.npz archive"):
        cr.Network.load(tmp_path / "text.npz")
    np.savez(tmp_path / "other.npz", metadata=np.array(json.dumps({"format": "keras"})))
    with pytest.raises(cr.ChainruleError, match=r"is not a chainrule model file \(format 'keras'\)"):
        cr.Network.load(tmp_path / "other.npz")
    with zipfile.ZipFile(tmp_path / "zip.npz", "w") as z:
        z.writestr("readme.txt", "not numpy")
    with pytest.raises(cr.ChainruleError, match=r"not a chainrule model file"):
        cr.Network.load(tmp_path / "zip.npz")
    with pytest.raises(FileNotFoundError, match=r"no model file at this path") as missing:
        cr.Network.load(tmp_path / "missing.npz")
    assert missing.value.filename == str(tmp_path / "missing.npz")


def test_newer_format_version(tmp_path):
    path = cr.Network([2, 2], seed=0).save(tmp_path / "model.npz")

    def bump(a):
        meta = json.loads(str(a["metadata"]))
        meta["version"] = 3
        a["metadata"] = np.array(json.dumps(meta))

    _rewrite(path, tmp_path / "v3.npz", bump)
    with pytest.raises(cr.ChainruleError, match=r"is format version 3; this chainrule reads version 2"):
        cr.Network.load(tmp_path / "v3.npz")


def test_pickle_bearing_file_is_refused_without_unpickling(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))

    path = cr.Network([2, 2], seed=0).save(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["W1"] = np.array([Boom()], dtype=object)
    np.savez(tmp_path / "pickled.npz", **arrays)
    with pytest.raises(cr.ChainruleError, match=r"holds pickled Python objects in 'W1'; chainrule never unpickles"):
        cr.Network.load(tmp_path / "pickled.npz")


def test_nan_weights_are_not_saved(tmp_path):
    net = cr.Network([2, 2], seed=0)
    net.W[1][0, 0] = np.nan
    with pytest.raises(cr.ChainruleError, match=r"W\[1\] \(layer 1\) contains nan"):
        net.save(tmp_path / "nan.npz")
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------- hardening (issue 11)
def _arrays(path):
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _meta(path):
    return json.loads(str(_arrays(path)["metadata"]))


def _write(dst, meta, arrays, *, resign=True, text=None):
    """A model file with this metadata (re-signed, so that the schema, not the checksum, is tested)."""
    meta = dict(meta)
    if resign:
        meta["sha256"] = crio._checksum(meta, {k: v for k, v in arrays.items() if k != "metadata"})
    arrays = {k: v for k, v in arrays.items() if k != "metadata"}
    np.savez(dst, metadata=np.array(json.dumps(meta) if text is None else text), **arrays)
    return dst


def _saved(tmp_path, sizes=(3, 4, 2), **kwargs):
    net = cr.Network(list(sizes), seed=0, **kwargs)
    return net.save(tmp_path / "model.npz", info={"epochs": 1})


def _patch(path, signature, offset, fmt, value, *, every=True):
    """Overwrite a field of the zip headers that start with ``signature`` (local or central)."""
    data = bytearray(path.read_bytes())
    at = data.find(signature)
    while at >= 0:
        struct.pack_into(fmt, data, at + offset, value(struct.unpack_from(fmt, data, at + offset)[0]))
        if not every:
            break
        at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


def _finishes(fn, seconds=5.0):
    """Run ``fn`` in a thread; it must end (with any result) within ``seconds``."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s"
    return box


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom"])
@pytest.mark.parametrize("reader", [cr.Network.load, read_metadata, read_data_arrays])
def test_devices_are_refused_at_once(special, reader):
    box = _finishes(lambda: reader(special), 5)
    assert isinstance(box.get("error"), cr.ChainruleError)
    assert "character device, not a regular file" in str(box["error"])


@pytest.mark.parametrize("reader", [cr.Network.load, read_metadata, read_data_arrays])
def test_a_fifo_without_writer_is_refused_not_hung(tmp_path, reader):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    box = _finishes(lambda: reader(fifo), 5)
    assert isinstance(box.get("error"), cr.ChainruleError) and "FIFO" in str(box["error"])


def test_a_folder_and_bad_paths(tmp_path):
    with pytest.raises(cr.ChainruleError, match="is a folder, not a regular file"):
        cr.Network.load(tmp_path)
    for bad in ("a\x00b.npz", "", None, 3):
        with pytest.raises(cr.ChainruleError, match=r"^path must be a file path"):
            cr.Network.load(bad)
        with pytest.raises(cr.ChainruleError, match=r"^path must be a file path"):
            cr.Network([2, 2], seed=0).save(bad)
    with pytest.raises(cr.ChainruleError, match=r"net must be a chainrule Network"):
        crio.save_network("not a net", tmp_path / "m.npz")
    with pytest.raises(cr.ChainruleError, match=r"info must be a dict"):
        cr.Network([2, 2], seed=0).save(tmp_path / "m.npz", info=[1, 2])


def _deflated_zeros(member, header, nbytes):
    """A deflated zip member: an .npy header then ``nbytes`` zero bytes, compressed chunk by chunk."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    crc, parts, chunk = zlib.crc32(header), [comp.compress(header)], bytes(1 << 20)
    left = nbytes
    while left:
        piece = chunk[: min(left, len(chunk))]
        crc = zlib.crc32(piece, crc)
        parts.append(comp.compress(piece))
        left -= len(piece)
    parts.append(comp.flush())
    return b"".join(parts), crc, len(header) + nbytes


def _zip_with(path, members):
    """A zip of raw members ``name -> (compressed bytes, crc, size)`` (deflated)."""
    with zipfile.ZipFile(path, "w") as z:
        for name, (data, crc, size) in members.items():
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.CRC, info.compress_size, info.file_size = crc, len(data), size
            z.fp.write(info.FileHeader())  # the raw way: zipfile would inflate nothing itself
            z.fp.write(data)
            z.filelist.append(info)
            z.NameToInfo[name] = info
            info.header_offset = z.start_dir
            z.start_dir = z.fp.tell()
    return path


def test_a_zip_bomb_is_refused_before_it_inflates(tmp_path):
    # the metadata says W1 is (4, 3); the member claims (4000, 4000) float64 = 128 MB, in about 130 KB
    path = _saved(tmp_path)
    arrays = _arrays(path)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (4000, 4000)})
    bomb = _deflated_zeros("W1.npy", header.getvalue(), 4000 * 4000 * 8)
    plain = {}
    for name, a in arrays.items():
        buf = io.BytesIO()
        np.lib.format.write_array(buf, a)
        raw = buf.getvalue()
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        plain[f"{name}.npy"] = (comp.compress(raw) + comp.flush(), zlib.crc32(raw), len(raw))
    plain["W1.npy"] = bomb
    bad = _zip_with(tmp_path / "bomb.npz", plain)
    assert bad.stat().st_size < 500_000
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(cr.ChainruleError, match=r"W1 is \(4000, 4000\) of float64, the metadata says \(4, 3\)"):
            cr.Network.load(bad)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 1.0
    assert peak < 5_000_000


def test_an_array_claiming_more_than_the_file_can_hold_is_refused_unread(tmp_path):
    # 1.6 GB of float32 claimed by a member of a few hundred bytes: more than 1100 times the file's size
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (20000, 20000)})
    data, crc, _ = _deflated_zeros("X.npy", header.getvalue(), 1000)
    path = _zip_with(tmp_path / "data.npz", {"X.npy": (data, crc, len(header.getvalue()) + 20000 * 20000 * 4)})
    t0 = time.perf_counter()
    with pytest.raises(cr.ChainruleError, match=r"'X' claims shape \(20000, 20000\) of float32, which needs 1.6 GB"):
        read_data_arrays(path, ("X",))
    assert time.perf_counter() - t0 < 1.0


def test_a_header_claiming_an_impossible_shape(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**9, 10**9)})
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as z:
        z.writestr("X.npy", header.getvalue() + bytes(64))
        z.writestr("Y.npy", header.getvalue() + bytes(64))
    with pytest.raises(cr.ChainruleError, match=r"huge.npz is corrupt: the array 'X' is \d+ bytes in the archive"):
        read_data_arrays(tmp_path / "huge.npz")
    path = _saved(tmp_path)
    arrays = _arrays(path)
    with zipfile.ZipFile(tmp_path / "model-huge.npz", "w") as z:
        for name, a in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, a)
            z.writestr(f"{name}.npy", header.getvalue() + bytes(64) if name == "W2" else buf.getvalue())
    with pytest.raises(cr.ChainruleError, match=r"corrupt: the array 'W2'|W2 is \(1000000000, 1000000000\)"):
        cr.Network.load(tmp_path / "model-huge.npz")


def test_unknown_and_extra_members(tmp_path):
    path = _saved(tmp_path)
    arrays = _arrays(path)
    _write(tmp_path / "extra.npz", _meta(path), {**arrays, "W9": np.ones((2, 2))})
    with pytest.raises(
        cr.ChainruleError, match=r"does not match its metadata: missing arrays \[\], unexpected \['W9'\]"
    ):
        cr.Network.load(tmp_path / "extra.npz")
    (tmp_path / "note.npz").write_bytes(path.read_bytes())
    with zipfile.ZipFile(tmp_path / "note.npz", "a") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(cr.ChainruleError, match=r"unexpected \['readme.txt'\]"):
        cr.Network.load(tmp_path / "note.npz")
    with zipfile.ZipFile(tmp_path / "twice.npz", "w") as z:
        with pytest.warns(UserWarning, match="Duplicate name"):
            for _ in range(2):
                z.writestr("metadata.npy", b"x")
    with pytest.raises(cr.ChainruleError, match=r"holds the array 'metadata' twice"):
        cr.Network.load(tmp_path / "twice.npz")


def test_encrypted_members_and_other_compressions_are_refused(tmp_path):
    path = _saved(tmp_path)
    enc = tmp_path / "enc.npz"
    enc.write_bytes(path.read_bytes())
    _patch(enc, b"PK\x01\x02", 8, "<H", lambda flags: flags | 1)
    with pytest.raises(cr.ChainruleError, match=r"its array 'metadata' is encrypted"):
        cr.Network.load(enc)
    arrays = _arrays(path)
    for method, number in ((zipfile.ZIP_BZIP2, 12), (zipfile.ZIP_LZMA, 14)):
        other = tmp_path / f"method{number}.npz"
        with zipfile.ZipFile(other, "w", compression=method) as z:
            for name, a in arrays.items():
                with z.open(f"{name}.npy", "w") as fh:
                    np.lib.format.write_array(fh, a)
        with pytest.raises(cr.ChainruleError, match=rf"uses zip compression method {number}; chainrule reads stored"):
            cr.Network.load(other)


@pytest.mark.parametrize("compressed", [False, True])
def test_a_bad_crc_is_corrupt(tmp_path, compressed):
    net = cr.Network([3, 4, 2], seed=0)
    saved = net.save(tmp_path / "model.npz")
    path = tmp_path / "crc.npz"
    if compressed:
        np.savez_compressed(path, **_arrays(saved))
    else:
        path.write_bytes(saved.read_bytes())
    _patch(path, b"PK\x01\x02", 16, "<I", lambda crc: crc ^ 0xFFFF)  # the CRC-32 zipfile checks against
    with pytest.raises(cr.ChainruleError, match=r"crc.npz is corrupt or truncated .*Bad CRC-32"):
        cr.Network.load(path)
    data = bytearray(saved.read_bytes())
    at = data.find(net.W[2].tobytes())
    data[at + 5] ^= 0x40  # one bit of W2's data
    (tmp_path / "flipped.npz").write_bytes(bytes(data))
    with pytest.raises(cr.ChainruleError, match=r"flipped.npz is corrupt or truncated \(.*'W2'\).*Bad CRC-32"):
        cr.Network.load(tmp_path / "flipped.npz")


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m["activations"][0].update(name="sigmoid"),  # relu -> sigmoid
        lambda m: m["activations"][1].update(name="identity"),  # softmax -> identity
        lambda m: m["activations"][0].update(name="leaky_relu", alpha=0.01),
        lambda m: m.update(loss="squared_error"),
        lambda m: m["info"].update(epochs=2),
        lambda m: m["info"].update(classes=[1.0, 0.0]),
        lambda m: m.update(bias=True),
    ],
)
def test_edited_metadata_fails_the_checksum(tmp_path, edit):
    net = cr.Network([3, 4, 2], activation="relu", output_activation="softmax", bias=False, seed=0)
    path = net.save(tmp_path / "model.npz", loss="cross_entropy", info={"epochs": 1, "classes": [0.0, 1.0]})
    meta = _meta(path)
    edit(meta)
    arrays = _arrays(path)
    if meta["bias"]:
        arrays.update(b1=np.zeros(4), b2=np.zeros(2))
    _write(tmp_path / "edited.npz", meta, arrays, resign=False)
    with pytest.raises(cr.ChainruleError, match=r"edited.npz was modified after it was saved"):
        cr.Network.load(tmp_path / "edited.npz")
    with pytest.raises(cr.ChainruleError, match=r"edited.npz was modified after it was saved"):
        read_metadata(tmp_path / "edited.npz")


def test_edited_leaky_alpha_fails_the_checksum(tmp_path):
    net = cr.Network([3, 4, 2], activation={"name": "leaky_relu", "alpha": 0.01}, seed=0)
    path = net.save(tmp_path / "model.npz")
    meta = _meta(path)
    meta["activations"][0]["alpha"] = 0.9
    _write(tmp_path / "edited.npz", meta, _arrays(path), resign=False)
    with pytest.raises(cr.ChainruleError, match=r"was modified after it was saved"):
        cr.Network.load(tmp_path / "edited.npz")


def test_version_1_files_are_refused_clearly(tmp_path):
    path = _saved(tmp_path)
    meta = _meta(path)
    meta["version"] = 1
    _write(tmp_path / "v1.npz", meta, _arrays(path), resign=False)
    with pytest.raises(cr.ChainruleError, match=r"v1.npz is a version 1 model file, whose checksum does not cover"):
        cr.Network.load(tmp_path / "v1.npz")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(version=True), r"is format version True"),
        (lambda m: m.update(sizes=[3, 4.0, 2]), r"sizes must be a list of 2 to 1001 whole numbers"),
        (lambda m: m.update(sizes=[3, 0, 2]), r"each size must be 1\.\.10000000"),
        (lambda m: m.update(sizes=[3]), r"sizes must be a list of 2 to 1001"),
        (lambda m: m.update(sizes=[3] + [1] * 2000), r"sizes must be a list of 2 to 1001"),
        (lambda m: m.update(sizes=[10**7, 10**7, 2]), r"parameters \(at most 2000000000\)"),
        (lambda m: m.update(sizes="3,4,2"), r"sizes must be a list"),
        (lambda m: m.update(bias="yes"), r"bias must be true or false; got 'yes'"),
        (lambda m: m.update(dtype="float16"), r"dtype must be 'float32' or 'float64'; got 'float16'"),
        (lambda m: m.update(dtype=["float64"]), r"dtype must be 'float32' or 'float64'"),
        (lambda m: m.update(loss="hinge"), r"loss must be null or one of"),
        (lambda m: m.update(loss=7), r"loss must be null or one of"),
        (lambda m: m.update(info=[1]), r"info must be an object; got \[1\]"),
        (lambda m: m.update(extra=1), r"unknown metadata fields \['extra'\]"),
        (lambda m: m.pop("bias"), r"incomplete metadata: no 'bias'"),
        (lambda m: m.update(activations="relu"), r"activations must be a list of 2, one per layer"),
        (lambda m: m.update(activations=[{"name": "relu"}]), r"activations must be a list of 2"),
        (lambda m: m["activations"].__setitem__(0, "relu"), r"activation of layer 1 must be \{'name': \.\.\.\}"),
        (lambda m: m["activations"][0].update(name="swish"), r"unknown activation 'swish'"),
        (lambda m: m["activations"][0].update(name="ReLU"), r"unknown activation 'ReLU'"),
        (lambda m: m["activations"][0].update(name="leaky_relu"), r"activation of layer 1 is .*not in the saved form"),
        (lambda m: m["activations"][0].update(alpha=0.5), r"activation of layer 1: bad parameters"),
        (lambda m: m["activations"][0].update(name="leaky_relu", alpha="0.5"), r"layer 1 has bad parameters"),
        (lambda m: m["activations"][0].update(name="leaky_relu", alpha=True), r"layer 1 has bad parameters"),
        (lambda m: m["activations"][0].update(name="leaky_relu", alpha=-1.0), r"alpha must be a finite number >= 0"),
        (lambda m: m["activations"][0].update(name="leaky_relu", alpha=float("inf")), r"layer 1 has bad parameters"),
        (lambda m: m["activations"][1].update(name="softmax"), r"unusable model: softmax on layer 2 with a single"),
        (lambda m: m.update(sha256="abc"), r"sha256 must be 64 hex digits"),
    ],
)
def test_every_metadata_field_is_validated(tmp_path, edit, message):
    path = _saved(tmp_path, sizes=(3, 4, 1))
    meta = _meta(path)
    edit(meta)
    arrays = _arrays(path)
    if meta.get("sha256") == "abc":
        np.savez(
            tmp_path / "bad.npz",
            metadata=np.array(json.dumps(meta)),
            **{k: v for k, v in arrays.items() if k != "metadata"},
        )
    else:
        _write(tmp_path / "bad.npz", meta, arrays)
    for reader in (cr.Network.load, read_metadata):
        with pytest.raises(cr.ChainruleError, match=message):
            reader(tmp_path / "bad.npz")


@pytest.mark.parametrize(
    ("info", "message"),
    [
        (
            {"input_scaling": {"mean": [0, 0, 0], "scale": [1, 0, 1]}},
            r"input_scaling: the Standardizer.s scale must be > 0",
        ),
        (
            {"input_scaling": {"mean": [0, 0, 0], "scale": [1, -2, 1]}},
            r"input_scaling: the Standardizer.s scale must be > 0",
        ),
        (
            {"input_scaling": {"mean": [0, 0, 0], "scale": [1, 1e-320, 1]}},
            r"input_scaling: .*scale must be > 0 \(at least 2.23e-308\)",
        ),
        ({"input_scaling": {"mean": [0, 0], "scale": [1, 1]}}, r"input_scaling.mean must be 3 finite numbers"),
        ({"input_scaling": {"mean": [0, "a", 0], "scale": [1, 1, 1]}}, r"input_scaling.mean must be 3 finite"),
        ({"input_scaling": {"mean": [0, float("nan"), 0], "scale": [1, 1, 1]}}, r"mean must be 3 finite numbers"),
        ({"input_scaling": {"mean": [0, 0, 0], "scale": [1, float("inf"), 1]}}, r"scale must be 3 finite numbers"),
        ({"input_scaling": {"mean": [0, 0, 0]}}, r"input_scaling must be \{'mean': \[\.\.\.\], 'scale'"),
        ({"input_scaling": [0, 1]}, r"input_scaling must be"),
        ({"classes": [0.0]}, r"info.classes must be a list of 2 labels"),
        ({"classes": [0.0, 1.0, 2.0]}, r"info.classes must be a list of 2 labels"),
        ({"classes": "ab"}, r"info.classes must be a list of 2 labels"),
        ({"classes": [1.0, 1]}, r"info.classes has repeated labels"),
        ({"classes": ["x" * 201, "y"]}, r"a class label must be a finite number or a text of at most 200"),
        ({"classes": [{"a": 1}, "y"]}, r"a class label must be"),
        ({"classes": [None, "y"]}, r"a class label must be"),
        ({"classes": [True, "y"]}, r"a class label must be"),
        ({"classes": [float("nan"), 1.0]}, r"a class label must be"),
    ],
)
def test_crafted_cli_info_is_refused(tmp_path, info, message):
    path = _saved(tmp_path)
    meta = _meta(path)
    meta["info"] = info
    _write(tmp_path / "bad.npz", meta, _arrays(path))
    for reader in (cr.Network.load, read_metadata):
        with pytest.raises(cr.ChainruleError, match=message):
            reader(tmp_path / "bad.npz")
    with pytest.raises(cr.ChainruleError, match=message.replace("has corrupt metadata: ", "")):
        cr.Network([3, 4, 2], seed=0).save(tmp_path / "refused.npz", info=info)
    assert not (tmp_path / "refused.npz").exists()


def test_valid_cli_info_round_trips(tmp_path):
    info = {"input_scaling": {"mean": [0.5, -1, 2e-3], "scale": [1, 0.25, 3]}, "classes": ["cat", 7], "note": "é"}
    path = cr.Network([3, 4, 2], seed=0).save(tmp_path / "m.npz", info=info)
    net, meta = crio.load_network_and_metadata(path)
    assert net.sizes == (3, 4, 2) and meta["info"] == info and meta == read_metadata(path)


def test_crafted_info_fails_in_predict_and_evaluate_with_a_clear_error(tmp_path, capsys):
    from chainrule.cli import main

    path = _saved(tmp_path)
    meta = _meta(path)
    meta["info"] = {"classes": [0.0, 0.0], "input_scaling": {"mean": [0, 0, 0], "scale": [0, 0, 0]}}
    _write(tmp_path / "bad.npz", meta, _arrays(path))
    np.savez(tmp_path / "d.npz", X=np.ones((2, 3)), Y=np.ones((2, 2)))
    for command in ("predict", "evaluate"):
        assert main([command, "--model", str(tmp_path / "bad.npz"), "--data", str(tmp_path / "d.npz")]) == 2
        err = capsys.readouterr().err
        assert (
            "bad.npz has corrupt metadata: info.input_scaling: the Standardizer's scale must be > 0" in err
            and len(err) < 400
        )


def _raw_meta(tmp_path, text):
    path = _saved(tmp_path)
    arrays = {k: v for k, v in _arrays(path).items() if k != "metadata"}
    np.savez(tmp_path / "raw.npz", metadata=np.array(text), **arrays)
    return tmp_path / "raw.npz"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, r"has corrupt metadata: JSON nested deeper than 32 levels"),
        ('{"format": "chainrule-network", "x": ' + "[" * 40 + "]" * 40 + "}", r"JSON nested deeper than 32"),
        ('{"format": "chainrule-network", "version": 1' + "0" * 5000 + "}", r"an integer of 5001 digits"),
        ('{"format": "chainrule-network", "format": "chainrule-network"}', r"the key 'format' twice"),
        ('{"format": "chainrule-network", "x": "' + "a" * 20_000 + '"}', r"a string of 20000 characters"),
        ("{'format': 1}", r"has corrupt metadata: not valid JSON"),
        ('"chainrule-network"', r"is not a chainrule model file \(format None\)"),
        ('{"format": ["chainrule-network"]}', r"is not a chainrule model file \(format \['chainrule-network'\]\)"),
    ],
)
def test_hostile_json_metadata(tmp_path, text, message):
    path = _raw_meta(tmp_path, text)
    t0 = time.perf_counter()
    with pytest.raises(cr.ChainruleError, match=message):
        cr.Network.load(path)
    assert time.perf_counter() - t0 < 1.0


def test_metadata_that_is_not_a_string_or_too_long(tmp_path):
    path = _saved(tmp_path)
    arrays = _arrays(path)
    arrays["metadata"] = np.array([1.0, 2.0])
    np.savez(tmp_path / "num.npz", **arrays)
    with pytest.raises(cr.ChainruleError, match=r"its metadata is not a JSON string"):
        cr.Network.load(tmp_path / "num.npz")
    with pytest.raises(cr.ChainruleError, match=r"its metadata is 2000000 characters \(at most 1048576\)"):
        cr.Network.load(_raw_meta(tmp_path, " " * 2_000_000))
    with pytest.raises(cr.ChainruleError, match=r"info is too large"):
        cr.Network([2, 2], seed=0).save(tmp_path / "big.npz", info={f"k{i}": "x" * 9000 for i in range(200)})


def test_info_must_be_json(tmp_path):
    net = cr.Network([2, 2], seed=0)
    circular: dict = {}
    circular["self"] = circular
    for info in ({"x": object()}, circular, {"x": 10**200}):
        with pytest.raises(cr.ChainruleError, match=r"info must be JSON-serialisable|an integer of 201 digits"):
            net.save(tmp_path / "m.npz", info=info)
    assert not list(tmp_path.iterdir())
    # tuples and int keys are stored as JSON has them, and the checksum holds
    net.save(tmp_path / "m.npz", info={1: (2, 3), "nan": float("nan")})
    info = read_metadata(tmp_path / "m.npz")["info"]
    assert info["1"] == [2, 3] and np.isnan(info["nan"])


# ---------------------------------------------------------------------- saves
def _dead_pid():
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def _aged(path, seconds=60.0):
    """``path`` as a killed save leaves it: unchanged for ``seconds``."""
    t = time.time() - seconds
    os.utime(path, (t, t))
    return path


def test_stale_temporaries_of_killed_saves_are_removed_on_the_next_save(tmp_path):
    pid = _dead_pid()
    stale = [tmp_path / f".model.npz.{pid}.abc{i}_xyz.tmp" for i in range(3)] + [tmp_path / ".model.npz.k2j4_x7q.tmp"]
    for p in stale:  # the second kind: a temporary of the old naming, with no pid
        p.write_bytes(b"x" * 1000)
        _aged(p)
    live = tmp_path / f".model.npz.{os.getpid()}.live1234.tmp"  # a save in progress in a live process
    live.write_bytes(b"y")
    _aged(live)
    other = tmp_path / f".other.npz.{pid}.abcd1234.tmp"
    other.write_bytes(b"z")
    _aged(other)
    cr.Network([2, 2], seed=0).save(tmp_path / "model.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["model.npz", live.name, other.name])


def test_only_our_own_killed_temporaries_are_removed(tmp_path):
    pid = _dead_pid()
    keep = [
        tmp_path / ".model.npz.my-notes.tmp",  # a user's file that merely looks alike
        tmp_path / f".model.npz.{pid}.abc.tmp",  # not the name a save makes
        tmp_path / f".model.npz.{pid}.fresh123.tmp",  # changed just now: maybe another host's live save
    ]
    for p in keep:
        p.write_bytes(b"keep")
    _aged(keep[0])
    _aged(keep[1])
    # saving "model" must not take "model.npz"'s temporaries for its own
    longer = tmp_path / f".model.npz.{pid}.abcd1234.tmp"
    longer.write_bytes(b"keep")
    _aged(longer)
    cr.Network([2, 2], seed=0).save(tmp_path / "model")
    assert all(p.exists() for p in [*keep, longer])


def test_a_live_save_of_a_prefix_named_target_is_not_disturbed(tmp_path):
    # a save of "m" while another process saves "m.5": the other's temporary is not "m"'s to remove
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, chainrule as cr\n"
            "from chainrule._files import atomic_write\n"
            "def slow(fh):\n"
            "    fh.write(b'x'); fh.flush(); print('writing', flush=True); time.sleep(3); fh.write(b'y')\n"
            f"atomic_write({str(tmp_path / 'm.5')!r}, slow)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "writing"
    cr.Network([2, 2], seed=0).save(tmp_path / "m")
    assert child.wait(timeout=30) == 0
    assert (tmp_path / "m.5").read_bytes() == b"xy"


def test_a_file_written_over_keeps_its_permissions(tmp_path):
    path = cr.Network([2, 2], seed=0).save(tmp_path / "m.npz")
    os.chmod(path, 0o600)  # a model its owner protected
    cr.Network([2, 2], seed=1).save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_saved_files_get_umask_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = cr.Network([2, 2], seed=0).save(tmp_path / "m.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_save_errors_name_the_target(tmp_path, monkeypatch):
    target = tmp_path / "no-such-folder" / "model.npz"
    with pytest.raises(FileNotFoundError) as info:
        cr.Network([2, 2], seed=0).save(target)
    assert info.value.filename == str(target)
    with pytest.raises(IsADirectoryError) as info:
        cr.Network([2, 2], seed=0).save(tmp_path)
    assert info.value.filename == str(tmp_path)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(OSError, match="No space left on device") as info:
        cr.Network([2, 2], seed=0).save(tmp_path / "m.npz")
    assert info.value.filename == str(tmp_path / "m.npz") and not list(tmp_path.glob("*.tmp"))


# ---------------------------------------------------------------------- the shared npz reader
def test_loading_a_valid_model_uses_about_its_arrays_size(tmp_path):
    # (for a 1 M parameter model the old reader peaked at 2x: the arrays read, then the network's copy)
    net = cr.Network([500, 1000, 500], seed=0)  # 1 M parameters, 8 MB
    path = net.save(tmp_path / "m.npz")
    tracemalloc.start()
    try:
        back = cr.Network.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = net.n_params * 8
    assert back.n_params == net.n_params
    np.testing.assert_array_equal(back._flat, net._flat)
    assert peak < size + 3_000_000  # read straight into the network's parameters, through 1 MiB chunks


def test_read_data_arrays(tmp_path):
    X = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    np.savez_compressed(tmp_path / "d.npz", X=X, Y=np.arange(3), notes=np.array([object()], dtype=object))
    got = read_data_arrays(tmp_path / "d.npz")
    assert sorted(got) == ["X", "Y"]
    np.testing.assert_array_equal(got["X"], X)
    np.testing.assert_array_equal(got["Y"], np.arange(3))
    np.savez(tmp_path / "only.npz", X=X)
    with pytest.raises(cr.ChainruleError, match=r"needs arrays named X and Y; it has X"):
        read_data_arrays(tmp_path / "only.npz")
    with pytest.raises(FileNotFoundError, match="no data file at this path"):
        read_data_arrays(tmp_path / "missing.npz")
    with pytest.raises(cr.ChainruleError, match=r"its arrays need 96 bytes, more than the limit of 10 bytes"):
        read_data_arrays(tmp_path / "only.npz", ("X",), max_bytes=10)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (np.ones(2, complex), "complex128 \\(complex numbers\\)"),
        (np.array(["2020-01-01"], dtype="datetime64[D]"), "datetime64\\[D\\] \\(dates and times\\)"),
        (np.array(["a"]), "<U1 \\(strings\\)"),
        (np.array([b"a"]), "\\|S1 \\(bytes\\)"),
        (np.zeros(2, dtype=[("a", "<f8")]), "structured dtype"),
        (np.array([None], dtype=object), "pickled Python objects in 'Y'; chainrule never unpickles"),
    ],
)
def test_data_arrays_must_be_numbers(tmp_path, value, kind):
    np.savez(tmp_path / "d.npz", X=np.ones((2, 2)), Y=value)
    with pytest.raises(cr.ChainruleError, match=kind):
        read_data_arrays(tmp_path / "d.npz")


def test_npy_format_versions_and_headers(tmp_path):
    a = np.arange(6.0).reshape(2, 3)
    with zipfile.ZipFile(tmp_path / "v.npz", "w") as z:
        for name, version in (("X", (1, 0)), ("Y", (2, 0)), ("Z", (3, 0))):
            with z.open(f"{name}.npy", "w") as fh:
                np.lib.format.write_array(fh, a, version=version)
        z.writestr("W.npy", b"\x93NUMPY\x04\x00" + bytes(20))
        z.writestr("V.npy", b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31) + bytes(100))
        z.writestr("U.npy", b"not an array at all")
    got = read_data_arrays(tmp_path / "v.npz", ("X", "Y", "Z"))
    for v in got.values():
        np.testing.assert_array_equal(v, a)
    for name, message in (
        ("W", r"format version 4.0; known: 1.0, 2.0, 3.0"),
        ("V", r"claims 2147483648 bytes \(at most 65536\)"),
        ("U", r"its member 'U' is not a .npy array"),
    ):
        with pytest.raises(cr.ChainruleError, match=message):
            read_data_arrays(tmp_path / "v.npz", (name,))
