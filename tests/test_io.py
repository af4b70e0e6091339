"""Model files: round trips, atomic writes, and refusal of truncated, edited, foreign and pickled files."""

import json
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule.io import read_metadata


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("loss", sorted(cr.LOSSES))
def test_round_trip_every_activation(tmp_path, dtype, bias, loss):
    acts = ["identity", "sigmoid", "tanh", "relu", {"name": "leaky_relu", "alpha": 0.2}, "softplus", "softmax"]
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
