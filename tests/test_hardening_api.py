"""Hardening of the in-memory API (issue 11): every bad argument of a public function or class ends
in a short ChainruleError naming the parameter; huge sizes are refused with the memory they would
need; sample weights of 1e308 give the plain mean; the backend choice is context-local; the first
compile says so once; plots refuse unknown suffixes before drawing and write atomically."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import PATHS, computational_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import _memory, article
from chainrule.engine import backend as _backend
from chainrule.interop import from_sklearn
from chainrule.optim import get_optimizer

NET = cr.Network([3, 4, 2], seed=0)
X = np.linspace(-1, 1, 6).reshape(2, 3)
Y = np.array([[0.0, 1.0], [1.0, 0.0]])
E = cr.explain(NET, X, Y, layer=2, j=1, k=0)


class BrokenLen:
    """A container whose __len__ and __iter__ fail."""

    def __len__(self) -> int:
        raise RuntimeError("len is broken")

    def __iter__(self):
        raise RuntimeError("iter is broken")

    def __getitem__(self, i):
        raise RuntimeError("getitem is broken")


class BrokenIter(list):
    def __iter__(self):
        raise OSError("iter is broken")


class HugeRepr:
    def __repr__(self) -> str:
        return "r" * 3_000_000


class NoG(cr.Activation):
    name = "no_g"


class NoC0(cr.Loss):
    name = "no_c0"


def _deep(depth: int = 3000) -> list:
    out: list = []
    inner = out
    for _ in range(depth):
        inner.append([])
        inner = inner[0]
    return out


DEEP = _deep()
NAN, INF = float("nan"), float("inf")


def network(**kwargs):
    return lambda: cr.Network(kwargs.pop("sizes", [3, 4, 2]), **kwargs)


def from_weights(*args, **kwargs):
    return lambda: cr.Network.from_weights(*args, **kwargs)


def grads(**kwargs):
    args = {"X": X, "Y": Y, **kwargs}
    return lambda: cr.gradients(NET, args.pop("X"), args.pop("Y"), **args)


def cost(**kwargs):
    args = {"X": X, "Y": Y, **kwargs}
    return lambda: cr.cost(NET, args.pop("X"), args.pop("Y"), **args)


def check(**kwargs):
    return lambda: cr.gradcheck(NET, X, Y, **kwargs)


def explain(**kwargs):
    args = {"layer": 2, "j": 1, "k": 0, **kwargs}
    return lambda: cr.explain(NET, X, Y, **args)


W2 = [np.zeros((4, 3)), np.zeros((2, 4))]

# (id, callable, a word the message must hold: the parameter's name)
CASES = [
    # Network(sizes, ...)
    ("sizes None", network(sizes=None), "sizes"),
    ("sizes int", network(sizes=5), "sizes"),
    ("sizes str", network(sizes="345"), "sizes"),
    ("sizes dict", network(sizes={3: 4}), "sizes"),
    ("sizes broken len", network(sizes=BrokenLen()), "sizes"),
    ("sizes broken iter", network(sizes=BrokenIter([3, 2])), "sizes"),
    ("sizes deep", network(sizes=DEEP), "sizes"),
    ("sizes one layer", network(sizes=[3]), "sizes"),
    ("sizes empty", network(sizes=[]), "sizes"),
    ("sizes zero", network(sizes=[3, 0, 2]), "sizes[1]"),
    ("sizes negative", network(sizes=[3, -1]), "sizes[1]"),
    ("sizes 1.5", network(sizes=[3, 1.5]), "sizes[1]"),
    ("sizes nan", network(sizes=[3, NAN]), "sizes[1]"),
    ("sizes inf", network(sizes=[INF, 3]), "sizes[0]"),
    ("sizes bool", network(sizes=[3, True]), "sizes[1]"),
    ("sizes None inside", network(sizes=[3, None]), "sizes[1]"),
    ("sizes str inside", network(sizes=[3, "4"]), "sizes[1]"),
    ("sizes nested", network(sizes=[3, [4]]), "sizes[1]"),
    ("sizes huge", network(sizes=[3, 10**12, 2]), "Network([3, 1000000000000, 2])"),
    ("sizes 2**63", network(sizes=[2, 2**63]), "would need"),
    ("sizes 1e5 x 2", network(sizes=[100000] * 2 + [10**6]), "would need"),
    ("sizes 10**400", network(sizes=[2, 10**400]), "would need"),
    ("dtype nonsense", network(dtype="nonsense"), "dtype"),
    ("dtype int", network(dtype="int32"), "dtype"),
    ("dtype object", network(dtype=object()), "dtype"),
    ("dtype list", network(dtype=[1, 2]), "dtype"),
    ("seed str", network(seed="abc"), "seed"),
    ("seed -1", network(seed=-1), "seed"),
    ("seed 1.5", network(seed=1.5), "seed"),
    ("seed list", network(seed=[1, 2]), "seed"),
    ("seed bool", network(seed=True), "seed"),
    ("bias str", network(bias="no"), "bias"),
    ("bias None", network(bias=None), "bias"),
    ("bias 1", network(bias=1), "bias"),
    ("activation int", network(activation=3), "activation"),
    ("activation None", network(activation=None), "activation"),
    ("activation unknown", network(activation="sigmod"), "activation"),
    ("activation huge str", network(activation="x" * 100_000), "activation"),
    ("activation list item", network(activation=["tanh", 5]), "activation[1]"),
    ("activation list length", network(activation=["tanh"]), "activation"),
    ("activation dict no name", network(activation={"alpha": 1}), "activation"),
    ("leaky alpha str", network(activation={"name": "leaky_relu", "alpha": "x"}), "alpha"),
    ("leaky alpha nan", network(activation={"name": "leaky_relu", "alpha": NAN}), "alpha"),
    ("leaky alpha list", network(activation={"name": "leaky_relu", "alpha": [1]}), "alpha"),
    ("leaky bad key", network(activation={"name": "leaky_relu", "beta": 1}), "leaky_relu"),
    ("output_activation int", network(output_activation=5), "output_activation"),
    ("activation without g", network(activation=NoG()), "NoG does not define g and g_prime"),
    ("output_activation unknown", network(output_activation="softmaks"), "output_activation"),
    # Network.from_weights
    ("weights None", from_weights(None), "weights"),
    ("weights int", from_weights(5), "weights"),
    ("weights str", from_weights("abc"), "weights"),
    ("weights empty", from_weights([]), "weights"),
    ("weights array", from_weights(np.zeros((2, 2, 2))), "weights"),
    ("weights ragged", from_weights([[[1.0, 2.0], [3.0]]]), "weights[0]"),
    ("weights strings", from_weights([[["a", "b"]]]), "weights[0]"),
    ("weights huge repr", from_weights([np.array([[HugeRepr()]], dtype=object)]), "weights[0]"),
    ("weights 1-D", from_weights([np.zeros(3)]), "weights[0]"),
    ("weights 3-D", from_weights([np.zeros((2, 2, 2))]), "weights[0]"),
    ("weights zero rows", from_weights([np.zeros((0, 3))]), "weights[0]"),
    ("weights zero columns", from_weights([np.zeros((3, 0))]), "weights[0]"),
    ("weights chain", from_weights([np.zeros((3, 2)), np.zeros((2, 4))]), "weights[1]"),
    ("weights nan", from_weights([np.full((2, 2), NAN)]), "W[1]"),
    ("weights None inside", from_weights([np.zeros((2, 2)), None]), "weights[1]"),
    ("weights deep", from_weights([DEEP]), "weights[0]"),
    ("weights broken iter", from_weights(BrokenIter([np.zeros((2, 2))])), "weights"),
    ("activation broken iter", from_weights(W2, activation=BrokenIter(["tanh", "tanh"])), "activation"),
    ("weights dtype", from_weights(W2, dtype="nonsense"), "dtype"),
    ("biases int", from_weights(W2, biases=5), "biases"),
    ("biases str", from_weights(W2, biases="ab"), "biases"),
    ("biases count", from_weights(W2, biases=[np.zeros(4)]), "biases"),
    ("biases length", from_weights(W2, biases=[np.zeros(4), np.zeros(3)]), "biases[1]"),
    ("biases ragged", from_weights(W2, biases=[[1.0, [2.0]], np.zeros(2)]), "biases[0]"),
    ("biases 2-D", from_weights(W2, biases=[np.zeros((4, 1)), np.zeros(2)]), "biases[0]"),
    ("biases None inside", from_weights(W2, biases=[None, np.zeros(2)]), "biases[0]"),
    # parameters, layer numbers
    ("W assign strings", lambda: NET.W.__setitem__(1, "abc"), "W[1]"),
    ("W assign shape", lambda: NET.W.__setitem__(1, np.zeros((3, 4))), "W[1]"),
    ("W assign ragged", lambda: NET.W.__setitem__(2, [[1.0], [1.0, 2.0]]), "W[2]"),
    ("W[0]", lambda: NET.W[0], "W"),
    ("W['1']", lambda: NET.W["1"], "W"),
    ("W[1.0]", lambda: NET.W[1.0], "W"),
    ("b[99]", lambda: NET.b[99], "b"),
    ("b[2**70]", lambda: NET.b[2**70], "b"),
    # forward, predict
    ("forward None", lambda: NET.forward(None), "X"),
    ("forward str", lambda: NET.forward("abc"), "X"),
    ("forward ragged", lambda: NET.forward([[1, 2, 3], [1]]), "X"),
    ("forward deep", lambda: NET.forward(DEEP), "X"),
    ("forward broken", lambda: NET.forward(BrokenLen()), "X"),
    ("forward columns", lambda: NET.forward(np.zeros((2, 5))), "X"),
    ("predict nan", lambda: NET.predict([[NAN, 0, 0]]), "X"),
    ("predict 3-D", lambda: NET.predict(np.zeros((1, 2, 3))), "X"),
    ("predict_proba tanh", lambda: cr.Network([2, 2], activation="tanh").predict_proba([[0, 0]]), "predict_proba"),
    # gradients and cost
    ("gradients net", lambda: cr.gradients(None, X, Y), "net"),
    ("gradients per_sample str", grads(per_sample="yes"), "per_sample"),
    ("gradients per_sample None", grads(per_sample=None), "per_sample"),
    ("gradients per_sample 2", grads(per_sample=2), "per_sample"),
    ("gradients fused None", grads(fused=None), "fused"),
    ("gradients fused str", grads(fused="false"), "fused"),
    ("gradients loss int", grads(loss=5), "loss"),
    ("gradients loss None", grads(loss=None), "loss"),
    ("gradients loss unknown", grads(loss="hinge"), "loss"),
    ("gradients loss huge", grads(loss="l" * 100_000), "loss"),
    ("gradients loss without C0", grads(loss=NoC0()), "NoC0 does not define C0 and dC0_da"),
    ("gradients sample_weight str", grads(sample_weight="ab"), "sample_weight"),
    ("gradients sample_weight dict", grads(sample_weight={1: 2}), "sample_weight"),
    ("gradients sample_weight short", grads(sample_weight=[1.0]), "sample_weight"),
    ("gradients sample_weight nan", grads(sample_weight=[1.0, NAN]), "sample_weight"),
    ("gradients sample_weight inf", grads(sample_weight=[1.0, INF]), "sample_weight"),
    ("gradients sample_weight negative", grads(sample_weight=[1.0, -1.0]), "sample_weight"),
    ("gradients sample_weight zeros", grads(sample_weight=[0.0, 0.0]), "sample_weight"),
    ("gradients sample_weight ragged", grads(sample_weight=[[1.0], 2.0]), "sample_weight"),
    ("gradients sample_weight per_sample", grads(sample_weight=[1.0, 1.0], per_sample=True), "sample_weight"),
    ("gradients X None", grads(X=None), "X"),
    ("gradients X dict", grads(X={"a": 1}), "X"),
    ("gradients Y None", grads(Y=None), "Y"),
    ("gradients Y strings", grads(Y=["a", "b"]), "Y"),
    ("gradients Y labels", grads(Y=[0, 7]), "Y"),
    ("gradients Y label 1e300", grads(Y=[0.0, 1e300]), "Y holds class label 1e+300 at row 1"),
    ("gradients Y deep", grads(Y=DEEP), "Y"),
    ("cost loss", cost(loss=[1]), "loss"),
    ("cost sample_weight", cost(sample_weight="w"), "sample_weight"),
    ("cost net", lambda: cr.cost("net", X, Y), "net"),
    # gradcheck
    ("gradcheck eps 0", check(eps=0), "eps"),
    ("gradcheck eps nan", check(eps=NAN), "eps"),
    ("gradcheck eps str", check(eps="1e-6"), "eps"),
    ("gradcheck eps huge", check(eps=1e300), "eps"),
    ("gradcheck tol str", check(tol="a"), "tol"),
    ("gradcheck tol negative", check(tol=-1), "tol"),
    ("gradcheck tol inf", check(tol=INF), "tol"),
    ("gradcheck floor 0", check(floor=0), "floor"),
    ("gradcheck floor None", check(floor=None), "floor"),
    ("gradcheck max_checks 0", check(max_checks=0), "max_checks"),
    ("gradcheck max_checks 1.5", check(max_checks=1.5), "max_checks"),
    ("gradcheck max_checks str", check(max_checks="10"), "max_checks"),
    ("gradcheck seed str", check(seed="abc"), "seed"),
    ("gradcheck seed -1", check(seed=-1), "seed"),
    ("gradcheck sample_weight", check(sample_weight=[NAN, 1]), "sample_weight"),
    ("gradcheck loss", check(loss=3.5), "loss"),
    # explain
    ("explain eps 0", explain(eps=0), "eps"),
    ("explain eps nan", explain(eps=NAN), "eps"),
    ("explain eps negative", explain(eps=-1e-6), "eps"),
    ("explain eps str", explain(eps="x"), "eps"),
    ("explain layer 0", explain(layer=0), "layer"),
    ("explain layer str", explain(layer="2"), "layer"),
    ("explain layer None", explain(layer=None), "layer"),
    ("explain layer 2**70", explain(layer=2**70), "layer"),
    ("explain j out", explain(j=9), "j"),
    ("explain j None", explain(j=None), "j"),
    ("explain j float", explain(j=1.0), "j"),
    ("explain k out", explain(k=-1), "k"),
    ("explain k None", explain(k=None), "k"),
    ("explain sample out", explain(sample=5), "sample"),
    ("explain sample str", explain(sample="0"), "sample"),
    ("explain bias str", explain(bias="yes"), "bias"),
    ("explain loss", explain(loss=object()), "loss"),
    ("explain net", lambda: cr.explain([], X, Y, 1, 0, 0), "net"),
    ("to_text max_samples", lambda: E.to_text(max_samples="a"), "max_samples"),
    ("to_markdown max_samples", lambda: E.to_markdown(max_samples=0), "max_samples"),
    ("to_latex standalone", lambda: E.to_latex(standalone="yes"), "standalone"),
    # optimizers and schedules
    ("SGD lr str", lambda: cr.SGD(lr="a"), "lr"),
    ("SGD lr 0", lambda: cr.SGD(lr=0), "lr"),
    ("SGD lr nan", lambda: cr.SGD(lr=NAN), "lr"),
    ("SGD lr inf", lambda: cr.SGD(lr=INF), "lr"),
    ("SGD lr None", lambda: cr.SGD(lr=None), "lr"),
    ("SGD lr bool", lambda: cr.SGD(lr=True), "lr"),
    ("SGD momentum 1", lambda: cr.SGD(momentum=1.0), "momentum"),
    ("SGD momentum str", lambda: cr.SGD(momentum="0.9"), "momentum"),
    ("SGD momentum negative", lambda: cr.SGD(momentum=-0.1), "momentum"),
    ("SGD nesterov str", lambda: cr.SGD(momentum=0.9, nesterov="yes"), "nesterov"),
    ("SGD nesterov without momentum", lambda: cr.SGD(nesterov=True), "nesterov"),
    ("SGD weight_decay negative", lambda: cr.SGD(weight_decay=-1), "weight_decay"),
    ("SGD weight_decay list", lambda: cr.SGD(weight_decay=[0.1]), "weight_decay"),
    ("SGD schedule", lambda: cr.SGD(schedule="step"), "schedule"),
    ("Adam beta1 1", lambda: cr.Adam(beta1=1.0), "beta1"),
    ("Adam beta2 str", lambda: cr.Adam(beta2="x"), "beta2"),
    ("Adam eps 0", lambda: cr.Adam(eps=0), "eps"),
    ("StepLR step_size 0", lambda: cr.StepLR(0), "step_size"),
    ("StepLR step_size str", lambda: cr.StepLR("a"), "step_size"),
    ("StepLR gamma nan", lambda: cr.StepLR(1, gamma=NAN), "gamma"),
    ("ExponentialLR gamma None", lambda: cr.ExponentialLR(None), "gamma"),
    ("CosineLR epochs 1.5", lambda: cr.CosineLR(1.5), "epochs"),
    ("CosineLR min_factor 2", lambda: cr.CosineLR(3, min_factor=2.0), "min_factor"),
    ("set_epoch", lambda: cr.SGD().set_epoch(-1), "epoch"),
    ("step dW None", lambda: cr.SGD().step(NET, None, None), "dW"),
    ("step dW list", lambda: cr.SGD().step(NET, [np.zeros((4, 3))], None), "dW"),
    ("step dW shape", lambda: cr.SGD().step(NET, {1: np.zeros((1, 1)), 2: np.zeros((2, 4))}, None), "dW[1]"),
    ("step db None", lambda: cr.SGD().step(NET, {1: np.zeros((4, 3)), 2: np.zeros((2, 4))}, None), "db"),
    ("step net", lambda: cr.SGD().step("net", {}, {}), "net"),
    ("step_flat grad", lambda: cr.SGD().step_flat(NET, np.zeros(3)), "grad"),
    ("get_optimizer name", lambda: get_optimizer(5), "optimizer"),
    ("get_optimizer kwargs", lambda: get_optimizer("sgd", rate=1), "optimizer"),
    # registries and backends
    ("get_activation None", lambda: cr.get_activation(None), "activation"),
    ("get_activation list", lambda: cr.get_activation(["tanh"]), "activation"),
    ("get_loss list", lambda: cr.get_loss(["x"]), "loss"),
    ("get_loss unknown", lambda: cr.get_loss("x" * 10_000), "loss"),
    ("set_backend None", lambda: cr.set_backend(None), "backend"),
    ("set_backend list", lambda: cr.set_backend(["numpy"]), "backend"),
    ("set_backend unknown", lambda: cr.set_backend("gpu"), "backend"),
    ("backend unknown", lambda: cr.backend("cuda").__enter__(), "backend"),
    # results
    ("g_prime fused", lambda: cr.gradients(NET, X, Y).g_prime, "fused=False"),
    # plots
    ("plot suffix", lambda: cr.plot.plot_explanation(E, "x.txt"), "path"),
    ("plot no suffix", lambda: cr.plot.plot_explanation(E, "picture"), "path"),
    ("plot path int", lambda: cr.plot.plot_explanation(E, 5), "path"),
    ("plot path NUL", lambda: cr.plot.plot_explanation(E, "a\0.png"), "path"),
    ("plot e", lambda: cr.plot.plot_explanation(None), "Explanation"),
    ("plot sample", lambda: cr.plot.plot_explanation(E, sample=9), "sample"),
    ("plot sample str", lambda: cr.plot.plot_explanation(E, sample="0"), "sample"),
    ("plot color_by_gradient", lambda: cr.plot.plot_explanation(E, color_by_gradient="y"), "color_by_gradient"),
    ("plot_history history", lambda: cr.plot.plot_history(None), "history"),
    # interop
    ("from_sklearn object", lambda: from_sklearn(object()), "scikit-learn"),
    ("to_torch net", lambda: cr.interop.to_torch(None), "net"),
]


def test_the_table_is_large_and_its_ids_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) >= 100 and len(set(ids)) == len(ids)


@pytest.mark.parametrize("call,name", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_a_short_error_naming_the_parameter(call, name):
    import chainrule.interop
    import chainrule.plot  # noqa: F401 - the table refers to cr.plot and cr.interop

    with pytest.raises(cr.ChainruleError) as info:
        call()
    message = str(info.value)
    assert name in message, message
    assert len(message) <= 400, f"{len(message)} characters: {message[:200]}..."
    assert "\n" not in message.strip() or message.count("\n") <= 3


# ---------------------------------------------------------------- arbitrary values
ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=10),
    st.lists(st.integers(-3, 5), max_size=4),
    st.lists(st.lists(st.floats(-2, 2), max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.tuples(st.integers(0, 5), st.floats()),
    st.sampled_from([object(), BrokenLen(), BrokenIter([1, 2]), HugeRepr(), DEEP, np.zeros((2, 2, 2)), 1j]),
)

FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _ok_or_chainrule_error(call) -> None:
    try:
        call()
    except cr.ChainruleError as exc:
        assert len(str(exc)) <= 400, str(exc)[:300]


@FAST
@given(value=ANYTHING, where=st.sampled_from(["sizes", "activation", "output_activation", "bias", "dtype", "seed"]))
def test_network_takes_anything_and_answers_clearly(value, where):
    kwargs = {"sizes": [2, 3, 2], where: value}
    _ok_or_chainrule_error(lambda: cr.Network(kwargs.pop("sizes"), **kwargs))


@FAST
@given(value=ANYTHING, where=st.sampled_from(["X", "Y", "loss", "per_sample", "sample_weight", "fused"]))
def test_gradients_and_cost_take_anything_and_answer_clearly(value, where):
    args = {"X": X, "Y": Y, where: value}
    if where == "per_sample":
        args["sample_weight"] = None
    _ok_or_chainrule_error(lambda: cr.gradients(NET, **args))
    args.pop("per_sample", None), args.pop("fused", None)
    _ok_or_chainrule_error(lambda: cr.cost(NET, **args))


@FAST
@given(value=ANYTHING, where=st.sampled_from(["layer", "j", "k", "sample", "bias", "eps", "loss"]))
def test_explain_takes_anything_and_answers_clearly(value, where):
    args = {"layer": 2, "j": 1, "k": 0, where: value}
    _ok_or_chainrule_error(lambda: cr.explain(NET, X, Y, **args))


@FAST
@given(value=ANYTHING, where=st.sampled_from(["lr", "momentum", "nesterov", "weight_decay", "beta1", "eps"]))
def test_optimizers_take_anything_and_answer_clearly(value, where):
    cls = cr.Adam if where in ("beta1", "eps") else cr.SGD
    _ok_or_chainrule_error(lambda: cls(**{where: value}))


@FAST
@given(value=ANYTHING, where=st.sampled_from(["weights", "biases"]))
def test_from_weights_takes_anything_and_answers_clearly(value, where):
    args = {"weights": W2, "biases": None, where: value}
    _ok_or_chainrule_error(lambda: cr.Network.from_weights(**args))


# ---------------------------------------------------------------- item 6: sizes and memory
def test_huge_networks_say_how_much_memory_they_would_need(monkeypatch):
    with pytest.raises(cr.ChainruleError) as info:
        cr.Network([3, 10**12, 2], bias=False)
    message = str(info.value)
    assert message.startswith("Network([3, 1000000000000, 2]) would need 40 TB for its 5e12 weights (float64)")
    assert f"this machine has {_memory.human_bytes(_memory._physical_memory())}" in message
    with pytest.raises(cr.ChainruleError, match=r"would need 20 TB for its 5e12 weights \(float32\)"):
        cr.Network([3, 10**12, 2], bias=False, dtype="float32")
    monkeypatch.setattr(_memory, "MEMORY_LIMIT", 24 * 10**9)  # whatever this machine has: 24 GB
    with pytest.raises(cr.ChainruleError, match=r"would need 80 GB for its 1e10 weights \(float64\)"):
        cr.Network([100000] * 2, bias=False)


def test_a_gradient_too_large_for_memory_is_refused_with_its_size(monkeypatch):
    net = cr.Network([4, 64, 3], seed=0)
    Xb, Yb = np.zeros((300, 4)), np.zeros(300, dtype=int)
    monkeypatch.setattr(_memory, "MEMORY_LIMIT", 100_000)  # a small machine: refused before allocating
    for per_sample in (False, True):
        with pytest.raises(
            cr.ChainruleError, match=r"a gradient of 300 samples.* on Network\(\[4, 64, 3\]\) would need"
        ):
            cr.gradients(net, Xb, Yb, loss="squared_error", per_sample=per_sample)
    with pytest.raises(cr.ChainruleError, match=r"a forward pass of 300 samples through Network\(\[4, 64, 3\]\)"):
        net.forward(Xb)


def test_a_memory_error_while_allocating_becomes_a_clear_error(monkeypatch):
    def no_memory(nbytes, reuse):
        raise MemoryError(f"Unable to allocate {nbytes} bytes")

    monkeypatch.setattr(_memory, "_block", no_memory)
    net, X, Y = cr.Network([4, 64, 3], seed=0), np.zeros((500, 4)), np.zeros((500, 3))
    with pytest.raises(cr.ChainruleError, match=r"a gradient of 500 samples per sample .*needs .* more than is free"):
        cr.gradients(net, X, Y, per_sample=True)
    monkeypatch.setattr(article, "forward", lambda *args: no_memory(10**12, False))  # the explaining path's arrays
    with pytest.raises(cr.ChainruleError, match=r"a gradient of 500 samples on .*needs .* more than is free now"):
        cr.gradients(net, X, Y, fused=False)


def test_memory_units():
    assert _memory.human_bytes(4 * 10**13) == "40 TB" and _memory.human_bytes(999) == "999 bytes"
    assert _memory.human_bytes(10**5000) == "about 10^5000 bytes"
    assert _memory.human_count(5 * 10**12) == "5e12" and _memory.count_digits(10**4999) == 5000


# ---------------------------------------------------------------- from_weights
def test_from_weights_names_the_list_entry_the_layer_and_the_shapes():
    with pytest.raises(cr.ChainruleError, match=r"weights\[1\]: W\[2\] has shape \(2, 4\) but W\[1\] has \(3, 2\)"):
        cr.Network.from_weights([np.zeros((3, 2)), np.zeros((2, 4))])
    with pytest.raises(
        cr.ChainruleError, match=r"weights\[0\]: W\[1\] has shape \(0, 3\): layer 1 would have no nodes"
    ):
        cr.Network.from_weights([np.zeros((0, 3))])
    with pytest.raises(cr.ChainruleError, match=r"biases\[1\]: b\[2\] must have shape \(2,\).*got \(3,\)"):
        cr.Network.from_weights(W2, [np.zeros(4), np.zeros(3)])
    net = cr.Network.from_weights(W2, np.zeros((2, 4))[:, :4].tolist()[:1] + [np.zeros(2)])  # lists work
    assert net.sizes == (3, 4, 2)


# ---------------------------------------------------------------- item 10: sample weights
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("scale", [1e308, 1e-320, 3.0])
def test_equal_sample_weights_of_any_size_give_the_plain_mean(path, scale):
    net = cr.Network([3, 5, 2], activation="tanh", seed=1)
    rng = np.random.default_rng(1)
    Xs, Ys = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    with computational_path(path):
        plain = cr.gradients(net, Xs, Ys)
        weighted = cr.gradients(net, Xs, Ys, sample_weight=np.full(7, scale))
        C = cr.cost(net, Xs, Ys, sample_weight=np.full(7, scale))
        expected = [d.copy() for d in plain.dW]
        for l in (1, 2):
            np.testing.assert_allclose(weighted.dW[l], expected[l - 1], rtol=1e-12, atol=1e-15)
        assert weighted.C == pytest.approx(plain.C, rel=1e-12) and C == pytest.approx(plain.C, rel=1e-12)
        assert np.abs(weighted.dW[1]).max() > 0


def test_sample_weights_beyond_float32_work_on_a_float32_network():
    net = cr.Network([3, 4, 2], seed=0, dtype="float32")
    w = np.array([1e300, 3e300, 2e300])
    Xs = np.arange(9.0).reshape(3, 3) / 9
    g = cr.gradients(net, Xs, np.zeros((3, 2)), sample_weight=w)
    ref = cr.gradients(net, Xs, np.zeros((3, 2)), sample_weight=w / 1e300)
    np.testing.assert_allclose(g.dW[1], ref.dW[1], rtol=1e-6)
    assert g.dW[1].dtype == np.float32 and np.isfinite(g.C)


# ---------------------------------------------------------------- item 11: context-local backend
def test_backend_blocks_in_two_threads_interleaved_each_see_their_own():
    default = cr.get_backend()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, list[str]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def first():  # enters first, leaves first, while the other is still inside
        try:
            with cr.backend("numpy"):
                a_in.set()
                b_in.wait(5)
                seen["a"].append(cr.get_backend())
            a_out.set()
            seen["a"].append(cr.get_backend())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def second():
        try:
            a_in.wait(5)
            with cr.backend("auto"):
                b_in.set()
                a_out.wait(5)  # the first thread has left its block: this one's choice stands
                seen["b"].append(cr.get_backend())
            seen["b"].append(cr.get_backend())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert seen == {"a": ["numpy", default], "b": ["auto", default]}
    assert cr.get_backend() == default


def test_set_backend_sets_the_default_and_a_block_resets_to_it():
    default = cr.get_backend()
    try:
        with cr.backend("numpy"):
            assert cr.set_backend("auto" if default != "auto" else "numpy") == "numpy"
        assert cr.get_backend() != default  # set_backend changed the process default
    finally:
        cr.set_backend(default)
    assert cr.get_backend() == default


# ---------------------------------------------------------------- item 18: one word when compiling
def test_a_cold_kernel_cache_is_announced_once_on_stderr(tmp_path):
    code = (
        "from chainrule.engine import backend as _backend\n"
        "assert _backend._load() and _backend._load()\n"  # loading twice: one line (compiling is left out: 12 s)
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(Path(cr.__file__).parents[1])}
    env.pop("CHAINRULE_BACKEND", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("chainrule: compiling")]
    assert lines == ["chainrule: compiling the fast kernels once (about 10 s); later runs load them from the cache"]


def test_a_warm_cache_is_not_announced(monkeypatch, capsys):
    for path in ("numba", "hybrid"):  # every kernel the check looks at is compiled (and cached) by now
        with computational_path(path):
            cr.gradients(cr.Network([3, 4, 2], seed=0), X, Y)
    assert _backend._cache_is_warm(_backend._kernels)
    monkeypatch.setattr(_backend, "_announced", [False])
    _backend._announce_compiling(_backend._kernels)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(_backend, "_announced", [False])
    monkeypatch.setattr(_backend, "_cache_is_warm", lambda module: False)
    _backend._announce_compiling(_backend._kernels)
    _backend._announce_compiling(_backend._kernels)
    assert capsys.readouterr().err.count("chainrule: compiling the fast kernels once") == 1


# ---------------------------------------------------------------- results and plots
def test_g_prime_on_the_fused_path_says_to_use_fused_false():
    fast, slow = cr.gradients(NET, X, Y), cr.gradients(NET, X, Y, fused=False)
    with pytest.raises(
        cr.ChainruleError, match=r"g_prime is only kept with fused=False: call gradients\(\.\.\., fused=False\)"
    ):
        _ = fast.g_prime
    assert not hasattr(fast, "g_prime") and slow.g_prime[2].shape == (2, 2)
    np.testing.assert_allclose(fast.mean().dW[1], slow.dW[1], rtol=1e-12)


def test_layer_numbers_out_of_range_are_chainrule_errors_and_index_errors():
    with pytest.raises(IndexError):
        NET.W[3]
    with pytest.raises(TypeError):
        NET.W["x"]


def test_plots_refuse_an_unknown_suffix_before_drawing_and_write_atomically(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from chainrule import plot

    drawn = []
    real = plot._matplotlib
    monkeypatch.setattr(plot, "_matplotlib", lambda: drawn.append(1) or real())
    with pytest.raises(cr.ChainruleError, match=r"x\.txt.*\.png, \.svg, \.pdf"):
        plot.plot_explanation(E, tmp_path / "x.txt")
    assert drawn == [] and not (tmp_path / "x.txt").exists()
    target = tmp_path / "w.PNG"
    target.write_bytes(b"old")
    plot.plot_explanation(E, target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.PNG"]  # no temporary file left behind
    history = cr.fit(cr.Network([3, 2], seed=0), X, Y, epochs=2, verbose=0)
    with pytest.raises(cr.ChainruleError, match=r"h\.jpg"):
        plot.plot_history(history, tmp_path / "h.jpg")
    plot.plot_history(history, tmp_path / "h.svg")
    assert (tmp_path / "h.svg").read_text().lstrip().startswith("<?xml")


# ---------------------------------------------------------------- found by the independent fuzz run
def test_a_schedule_that_overflows_diverges_cleanly():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(20, 3)), rng.uniform(size=(20, 2))
    for schedule in (cr.ExponentialLR(1e308), cr.StepLR(1, 1e308)):
        net = cr.Network([3, 4, 2], seed=0)
        h = cr.fit(net, X, Y, epochs=3, optimizer=cr.SGD(1e-300, schedule=schedule), verbose=0)
        assert h.status == "diverged" and np.isfinite(net._flat).all()
    assert cr.ExponentialLR(1e308).factor(5) == float("inf")
    with pytest.raises(cr.ChainruleError, match="epoch must be a whole number >= 0"):
        cr.StepLR(2).factor(None)


def test_a_schedule_returning_junk_is_named():
    class Broken(cr.optim.Schedule):
        def factor(self, epoch):
            return "fast"

    with pytest.raises(cr.ChainruleError, match=r"Broken.factor\(0\) must return a number >= 0; got 'fast'"):
        _ = cr.SGD(0.1, schedule=Broken()).current_lr


def test_python_ints_beyond_float_range_are_named():
    net = cr.Network([3, 4, 2], seed=0)
    with pytest.raises(cr.ChainruleError, match=r"X holds 1000.* at \[0, 0\], too large for a floating-point number"):
        net.predict([[10**400, 1, 2]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_assigned_weights_must_be_finite(dtype):
    net = cr.Network([2, 3], seed=0, dtype=dtype)
    before = net.W[1].copy()
    with pytest.raises(cr.ChainruleError, match=r"W\[1\] contains nan .* at node j 0, node k 0"):
        net.W[1] = np.full((3, 2), np.nan)
    with pytest.raises(cr.ChainruleError, match=r"b\[1\] contains inf"):
        net.b[1] = [0.0, np.inf, 0.0]
    if dtype == "float32":
        with pytest.raises(cr.ChainruleError, match=r"W\[1\] contains inf"):  # beyond float32's range
            net.W[1] = np.full((3, 2), 1e300)
    np.testing.assert_array_equal(net.W[1], before)  # nothing half-written


def test_an_optimizer_moved_to_another_network_starts_afresh():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 2, size=20)
    a = cr.Network([3, 4, 2], output_activation="softmax", seed=0)
    b = cr.Network([3, 5, 2], output_activation="softmax", seed=0)  # another parameter count
    opt = cr.Adam(0.01)
    cr.fit(a, X, y, loss="cross_entropy", epochs=2, batch_size=5, optimizer=opt, verbose=0)
    h = cr.fit(b, X, y, loss="cross_entropy", epochs=2, batch_size=5, optimizer=opt, verbose=0)
    assert h.status == "completed"
    # and with the same parameter count, b is trained exactly as by a fresh optimizer
    c, d = cr.Network([3, 5, 2], output_activation="softmax", seed=1), b.copy()
    fresh = cr.Adam(0.01)
    cr.fit(c, X, y, loss="cross_entropy", epochs=1, batch_size=5, optimizer=opt, verbose=0)
    cr.fit(d, X, y, loss="cross_entropy", epochs=1, batch_size=5, optimizer=opt, verbose=0)
    e = b.copy()
    cr.fit(e, X, y, loss="cross_entropy", epochs=1, batch_size=5, optimizer=fresh, verbose=0)
    np.testing.assert_array_equal(d._flat, e._flat)


@pytest.mark.parametrize("value", [np.complex64(1 + 2j), np.timedelta64(3, "s"), np.datetime64("2020-01-01")])
def test_numpy_scalars_that_are_not_real_numbers_are_refused(value):
    net = cr.Network([2, 2], seed=0)
    with pytest.raises(cr.ChainruleError, match=r"X must be numeric; it holds .* at \[0, 0\], not a number"):
        net.predict(np.array([[value, 1.0]], dtype=object))
