"""fit() under faults: bad arguments, divergence in every setting, an exploding loss, Ctrl-C anywhere.

Whatever happens inside fit, the network ends with finite weights that gave a finite loss (or the
initial ones), the History says what happened and which weights were kept, no checkpoint holds a
NaN or inf, and the SIGINT handler in place before is put back.
"""

import math
import re
import signal
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import train as tr


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def _classifier(seed=0):
    return cr.Network([3, 6, 2], activation="relu", output_activation="softmax", seed=seed)


@pytest.fixture
def own_sigint_handler():
    """A handler of the caller's own, which fit must put back whatever happens."""

    def mine(signum, frame):  # pragma: no cover - never called
        raise AssertionError("not expected")

    old = signal.signal(signal.SIGINT, mine)
    yield mine
    signal.signal(signal.SIGINT, old)


# ---------------------------------------------------------------- bad arguments at the edge
class _NotACallback:
    pass


BAD_FIT_ARGS = [
    ("epochs", None),
    ("epochs", 0),
    ("epochs", 2.5),
    ("epochs", "10"),
    ("epochs", True),
    ("batch_size", "big"),
    ("batch_size", 0),
    ("batch_size", 1.5),
    ("batch_size", [8]),
    ("optimizer", 5),
    ("optimizer", "lbfgs"),
    ("shuffle", "no"),
    ("shuffle", 1),
    ("seed", "abc"),
    ("seed", -1),
    ("seed", 1.5),
    ("validation_data", 5),
    ("validation_data", "ab"),
    ("validation_data", ([[0.0, 0, 0]],)),
    ("validation_data", ([[0.0, 0]], [0])),
    ("validation_fraction", 0),
    ("validation_fraction", 1.5),
    ("validation_fraction", math.nan),
    ("validation_fraction", "0.2"),
    ("early_stopping", 0),
    ("early_stopping", "3"),
    ("min_delta", "x"),
    ("min_delta", -1.0),
    ("min_delta", math.inf),
    ("restore_best", "yes"),
    ("callbacks", 5),
    ("callbacks", "abc"),
    ("callbacks", [object()]),
    ("callbacks", [cr.Callback(), _NotACallback()]),
    ("checkpoint", 5),
    ("checkpoint", ""),
    ("checkpoint", "a\x00b"),
    ("checkpoint_every", 0),
    ("checkpoint_every", None),
    ("verbose", "x"),
    ("verbose", -1),
    ("loss", 5),
    ("loss", "nope"),
]


@pytest.mark.parametrize("name,value", BAD_FIT_ARGS, ids=[f"{n}={v!r}"[:40] for n, v in BAD_FIT_ARGS])
def test_a_bad_fit_argument_is_a_clear_error_naming_it(name, value):
    X, y = _data()
    net = _classifier()
    before = net._flat.copy()
    with pytest.raises(cr.ChainruleError) as info:
        cr.fit(net, X, y, **{"loss": "cross_entropy", "verbose": 0, name: value})
    message = str(info.value)
    assert name in message and len(message) < 400 and message.count("\n") <= 3
    assert np.array_equal(net._flat, before)  # nothing trained


def test_huge_user_values_are_shortened_in_messages():
    X, y = _data()
    with pytest.raises(cr.ChainruleError, match=r"callbacks must be a Callback") as info:
        cr.fit(_classifier(), X, y, callbacks=10**500, verbose=0)
    assert len(str(info.value)) < 400


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(["epochs", "batch_size", "checkpoint_every", "early_stopping", "verbose"]),
    value=st.one_of(
        st.text(max_size=30),
        st.floats().filter(lambda v: not (math.isfinite(v) and v.is_integer())),
        st.integers(max_value=-1),
        st.lists(st.integers(), max_size=3),
        st.just(object()),
        st.just(b"7"),
    ),
)
def test_any_junk_for_a_whole_number_argument_names_it(name, value):
    X, y = _data(12)
    with pytest.raises(cr.ChainruleError, match=name) as info:
        cr.fit(_classifier(), X, y, **{"epochs": 1, "verbose": 0, name: value})
    assert len(str(info.value)) < 400


def test_good_argument_variants_are_accepted():
    X, y = _data()

    class Count(cr.Callback):
        calls = 0

        def on_epoch_end(self, epoch, logs):
            Count.calls += 1

    h = cr.fit(
        _classifier(),
        X,
        y,
        loss="cross_entropy",
        epochs=np.int64(2),
        batch_size=10.0,
        optimizer="adam",
        seed=np.random.default_rng(1),
        validation_data=[X, y],
        callbacks=(c for c in [Count()]),
        verbose=False,
    )
    assert h.epochs == 2 and Count.calls == 2 and h.status == "completed" and h.stopped is None


def test_a_checkpoint_that_cannot_be_written_fails_before_training(tmp_path):
    X, y = _data()
    net = _classifier()
    before = net._flat.copy()
    with pytest.raises(IsADirectoryError) as info:
        cr.fit(net, X, y, checkpoint=tmp_path, verbose=0)
    assert str(tmp_path) in str(info.value)
    with pytest.raises(FileNotFoundError) as info:
        cr.fit(net, X, y, checkpoint=tmp_path / "no" / "such" / "ckpt.npz", verbose=0)
    assert "no" in str(info.value) and np.array_equal(net._flat, before)


@pytest.mark.parametrize(
    "args,match",
    [
        (("net",), r"net must be a chainrule Network"),
        (("X",), r"X must be numeric"),
        (("loss",), r"loss"),
    ],
)
def test_evaluate_checks_its_arguments(args, match):
    X, y = _data()
    kwargs = {"net": _classifier(), "X": X, "Y": y, "loss": "cross_entropy"}
    kwargs.update({"net": 5} if args == ("net",) else {"X": "abc"} if args == ("X",) else {"loss": 5})
    with pytest.raises(cr.ChainruleError, match=match):
        cr.evaluate(**kwargs)


def test_history_row_and_to_dict_work_when_empty_and_check_the_epoch():
    h = cr.History()
    assert h.to_dict()["loss"] == [] and h.to_dict()["status"] == "completed" and h.last_loss is None
    with pytest.raises(cr.ChainruleError, match=r"epoch.*no epochs"):
        h.row(1)
    h.loss.append(1.0)
    h.lr.append(0.1)
    assert h.row(1) == {"epoch": 1, "loss": 1.0, "lr": 0.1} and h.last_loss == 1.0
    for bad in (0, 2, "1", None):
        with pytest.raises(cr.ChainruleError, match=r"epoch must be a whole number"):
            h.row(bad)


# ---------------------------------------------------------------- divergence
OPTIMIZERS = {
    "sgd": lambda: cr.SGD(lr=1e300),
    "momentum": lambda: cr.SGD(lr=1e300, momentum=0.9, nesterov=True),
    "adam": lambda: cr.Adam(lr=1e300),
}
SETTINGS = {
    "plain": {},
    "validation": {"validation_fraction": 0.25},
    "early_stopping": {"validation_data": "same", "early_stopping": 2},
    "restore_best": {"restore_best": True},
    "checkpoint": {"checkpoint": "ckpt.npz", "checkpoint_every": 1},
}


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_divergence_in_the_first_epoch_keeps_the_initial_weights(optimizer, setting, tmp_path):
    """lr=1e300: the first step gives finite but huge weights, the second batch's loss is NaN;
    the weights that gave the last finite loss are the initial ones."""
    X, y = _data()
    net = _classifier()
    initial = net._flat.copy()
    kwargs = dict(SETTINGS[setting])
    if kwargs.get("validation_data") == "same":
        kwargs["validation_data"] = (X, y)
    if "checkpoint" in kwargs:
        kwargs["checkpoint"] = tmp_path / kwargs["checkpoint"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning leaks out
        h = cr.fit(net, X, y, loss="cross_entropy", epochs=5, batch_size=8, optimizer=OPTIMIZERS[optimizer](), **kwargs)
    assert h.status == "diverged" and h.diverged and not h.interrupted
    assert h.loss == [] and h.best_epoch is None and h.epochs == 0 and h.last_loss is None
    assert h.stopped.startswith("diverged: ") and "at epoch 1" in h.stopped
    assert "the weights that gave the last finite loss" in h.stopped and "are kept" in h.stopped
    assert "smaller learning rate" in h.stopped
    np.testing.assert_array_equal(net._flat, initial)
    assert h.to_dict()["status"] == "diverged"
    if "checkpoint" in kwargs:
        back = cr.Network.load(kwargs["checkpoint"])
        np.testing.assert_array_equal(back._flat, initial)
        assert cr.io.read_metadata(kwargs["checkpoint"])["info"]["status"] == "diverged"


def test_a_first_batch_with_an_infinite_loss_keeps_the_initial_weights():
    X, y = _data()
    net = cr.Network([3, 4, 1], activation="identity", seed=0)
    initial = net._flat.copy()
    h = cr.fit(net, X * 1e300, y.astype(float), epochs=3, batch_size=8, verbose=0)
    assert h.status == "diverged" and "the loss became inf at epoch 1, batch 1" in h.stopped
    assert "the initial weights (the first step diverged) are kept" in h.stopped
    np.testing.assert_array_equal(net._flat, initial)


def test_a_weight_that_overflows_is_undone():
    X, y = _data()
    net = cr.Network([3, 4, 1], activation="tanh", output_activation="identity", seed=0)
    initial = net._flat.copy()
    h = cr.fit(net, X, y * 1e3, epochs=3, optimizer=cr.SGD(lr=1e308), verbose=0)
    assert h.status == "diverged" and "a weight became NaN or inf in the step of epoch 1, batch 1" in h.stopped
    np.testing.assert_array_equal(net._flat, initial)


@pytest.mark.parametrize("restore_best", [False, True])
def test_later_divergence_keeps_the_last_finite_weights_or_the_best(restore_best, tmp_path):
    X, y = _data(40)
    Y = y.astype(float)[:, None] * 10
    net = cr.Network([3, 6, 1], activation="relu", output_activation="identity", seed=0)
    snapshots = {0: net._flat.copy()}  # after each step
    epochs_end = {}

    class Watch(cr.Callback):
        def on_batch_end(self, batch, logs):
            snapshots[batch] = net._flat.copy()

        def on_epoch_end(self, epoch, logs):
            epochs_end[epoch] = net._flat.copy()
            assert np.isfinite(cr.Network.load(tmp_path / "c.npz")._flat).all()

    class Grow(cr.optim.Schedule):  # a learning rate that grows tenfold per epoch: fine at first, then diverging
        def factor(self, epoch):
            return 10.0**epoch

    with pytest.warns(cr.train.TrainingWarning):
        h = cr.fit(
            net,
            X,
            Y,
            epochs=40,
            batch_size=8,
            optimizer=cr.SGD(lr=1e-3, schedule=Grow()),
            restore_best=restore_best,
            callbacks=Watch(),
            checkpoint=tmp_path / "c.npz",
            verbose=0,
        )
    assert h.status == "diverged" and h.epochs >= 2 and h.best_epoch is not None
    assert np.isfinite(net._flat).all() and all(np.isfinite(h.loss))
    if restore_best:
        np.testing.assert_array_equal(net._flat, epochs_end[h.best_epoch])
        assert f"the weights of epoch {h.best_epoch} (the best) are kept" in h.stopped
    else:
        assert any(np.array_equal(net._flat, s) for s in snapshots.values())
        assert np.isfinite(cr.cost(net, X, Y))
    np.testing.assert_array_equal(cr.Network.load(tmp_path / "c.npz")._flat, net._flat)


# ---------------------------------------------------------------- a loss that explodes but stays finite
def test_an_exploding_finite_loss_warns_once_and_is_recorded():
    X, y = _data()
    net = _classifier()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = cr.fit(net, X, y, loss="cross_entropy", epochs=8, optimizer=cr.SGD(lr=100.0), verbose=0)
    ours = [w for w in caught if issubclass(w.category, tr.TrainingWarning)]
    assert len(ours) == 1 and len(h.warnings) == 1 and str(ours[0].message) == h.warnings[0]
    assert ours[0].filename == __file__  # points at the caller's fit
    assert re.search(r"the training loss grew from \S+ \(epoch \d+\) to \S+ \(epoch \d+\)", h.warnings[0])
    assert "learning rate is probably too large" in h.warnings[0]
    assert issubclass(tr.TrainingWarning, RuntimeWarning) and h.to_dict()["warnings"] == h.warnings


def test_steady_training_does_not_warn():
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = cr.fit(_classifier(), X, y, loss="cross_entropy", epochs=10, optimizer=cr.SGD(lr=0.5), verbose=0)
    assert h.warnings == [] and h.status == "completed"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=1e-12, max_value=1e15), min_size=1, max_size=12))
def test_the_growth_rule(losses):
    """Warn (once) at the first epoch whose loss exceeds 100 times the lowest before it and the first one."""
    h = cr.History()
    guard = tr._Guard(cr.Network([1, 1], seed=0), h, 1, restore_best=False)
    expected = None
    for epoch, value in enumerate(losses, start=1):
        low = min(losses[: epoch - 1], default=math.inf)
        if expected is None and value > 100 * low and value > losses[0]:
            expected = epoch
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for epoch, value in enumerate(losses, start=1):
            h.loss.append(value)
            guard.epoch_loss(epoch, value)
    assert len(caught) == len(h.warnings) == (expected is not None)
    if expected is not None:
        assert f"(epoch {expected})" in h.warnings[0] and h.warnings[0].endswith("too large")


# ---------------------------------------------------------------- Ctrl-C anywhere inside fit
def _row_lengths_agree(h):
    n = len(h.loss)
    return len(h.lr) == len(h.seconds) == len(h.val_loss) == len(h.accuracy) == n


@pytest.mark.parametrize("when", ["batch", "epoch_end", "validation", "checkpoint", "step"])
def test_a_keyboard_interrupt_anywhere_keeps_whole_steps(when, monkeypatch, tmp_path, own_sigint_handler):
    X, y = _data(40)
    net = _classifier()
    after = {0: net._flat.copy()}
    calls = {"evaluate": 0, "save": 0, "step": 0}

    class Watch(cr.Callback):
        def on_batch_end(self, batch, logs):
            after[batch] = net._flat.copy()
            if when == "batch" and batch == 7:
                raise KeyboardInterrupt

        def on_epoch_end(self, epoch, logs):
            if when == "epoch_end" and epoch == 2:
                raise KeyboardInterrupt

    real_evaluate, real_save = tr.evaluate, tr._save_checkpoint

    def evaluate(*a, **k):
        calls["evaluate"] += 1
        if when == "validation" and calls["evaluate"] == 2:
            raise KeyboardInterrupt
        return real_evaluate(*a, **k)

    def save(*a, **k):
        calls["save"] += 1
        if when == "checkpoint" and calls["save"] == 2:
            raise KeyboardInterrupt
        return real_save(*a, **k)

    opt = cr.SGD(lr=0.1)
    real_step = opt.step_flat

    def step(net_, grad):
        calls["step"] += 1
        if when == "step" and calls["step"] == 6:
            net_._flat[:3] += 1.0  # half an update, then Ctrl-C
            raise KeyboardInterrupt
        real_step(net_, grad)

    monkeypatch.setattr(tr, "evaluate", evaluate)
    monkeypatch.setattr(tr, "_save_checkpoint", save)
    monkeypatch.setattr(opt, "step_flat", step)
    h = cr.fit(
        net,
        X,
        y,
        loss="cross_entropy",
        epochs=5,
        batch_size=8,  # 5 batches per epoch
        optimizer=opt,
        validation_data=(X, y),
        callbacks=[Watch()],
        checkpoint=tmp_path / "c.npz",
        verbose=0,
    )
    assert h.status == "interrupted" and h.interrupted and h.stopped.startswith("interrupted (Ctrl-C) ")
    assert signal.getsignal(signal.SIGINT) is own_sigint_handler
    assert _row_lengths_agree(h) and np.isfinite(net._flat).all()
    last = max(after)
    np.testing.assert_array_equal(net._flat, after[last])
    expected = {"batch": 7, "epoch_end": 10, "validation": 10, "checkpoint": 10, "step": 5}[when]
    assert (
        last == expected and f"the weights after epoch {(last - 1) // 5 + 1}, batch {(last - 1) % 5 + 1}" in h.stopped
    )
    assert h.epochs == {"batch": 1, "epoch_end": 2, "validation": 1, "checkpoint": 2, "step": 1}[when]
    assert np.isfinite(cr.Network.load(tmp_path / "c.npz")._flat).all()


def test_a_second_ctrl_c_interrupts_at_once_and_the_old_handler_is_back(own_sigint_handler):
    import os

    X, y = _data()
    net = _classifier()
    seen = []

    class TwoSignals(cr.Callback):
        def on_batch_end(self, batch, logs):
            seen.append(net._flat.copy())
            if batch == 2:
                os.kill(os.getpid(), signal.SIGINT)  # the first: a flag, checked after this batch
                os.kill(os.getpid(), signal.SIGINT)  # the second: KeyboardInterrupt here

    h = cr.fit(net, X, y, epochs=5, batch_size=8, callbacks=TwoSignals(), verbose=0)
    assert h.status == "interrupted" and len(seen) == 2
    np.testing.assert_array_equal(net._flat, seen[-1])
    assert signal.getsignal(signal.SIGINT) is own_sigint_handler


@pytest.mark.parametrize("outcome", ["diverged", "error", "completed"])
def test_the_old_sigint_handler_is_back_whatever_the_outcome(outcome, own_sigint_handler):
    X, y = _data()

    class Fail(cr.Callback):
        def on_batch_end(self, batch, logs):
            raise RuntimeError("a callback's own bug")

    kwargs = {
        "diverged": {"optimizer": cr.SGD(lr=1e300)},
        "error": {"callbacks": Fail()},
        "completed": {},
    }[outcome]
    if outcome == "error":
        with pytest.raises(RuntimeError, match="own bug"):
            cr.fit(_classifier(), X, y, loss="cross_entropy", epochs=2, verbose=0, **kwargs)
    else:
        h = cr.fit(_classifier(), X, y, loss="cross_entropy", epochs=2, verbose=0, **kwargs)
        assert h.status == outcome
    assert signal.getsignal(signal.SIGINT) is own_sigint_handler


def test_interrupted_with_restore_best_keeps_the_best_epoch():
    X, y = _data()
    net = _classifier()
    ends = {}

    class Watch(cr.Callback):
        def on_epoch_end(self, epoch, logs):
            ends[epoch] = net._flat.copy()
            if epoch == 4:
                raise KeyboardInterrupt

    h = cr.fit(
        net,
        X,
        y,
        loss="cross_entropy",
        epochs=10,
        validation_data=(X, 1 - y),
        restore_best=True,
        callbacks=Watch(),
        verbose=0,
    )
    assert h.status == "interrupted" and h.best_epoch is not None
    np.testing.assert_array_equal(net._flat, ends[h.best_epoch])
    assert f"the weights of epoch {h.best_epoch} (the best) are kept" in h.stopped


def test_status_of_early_stopping_and_callbacks():
    X, y = _data()
    h = cr.fit(
        _classifier(), X, y, loss="cross_entropy", epochs=50, validation_data=(X, 1 - y), early_stopping=2, verbose=0
    )
    assert h.status == "early_stopping" and f"the weights of epoch {h.best_epoch} (the best) are kept" in h.stopped

    class Stop(cr.Callback):
        def on_batch_end(self, batch, logs):
            raise cr.StopTraining("now")

    h = cr.fit(_classifier(), X, y, epochs=3, callbacks=Stop(), verbose=0)
    assert h.status == "callback" and h.stopped == "stopped by a callback at epoch 1, batch 1: now"


def test_a_history_cut_in_the_middle_of_a_row_is_trimmed_to_whole_rows():
    h = cr.History(loss=[3.0, 2.0, 1.0], accuracy=[0.5, 0.6], lr=[0.1, 0.1, 0.1], seconds=[1.0, 1.0], best_epoch=3)
    h._trim()
    assert h.loss == [3.0, 2.0] and h.accuracy == [0.5, 0.6] and h.lr == [0.1, 0.1] and h.best_epoch is None
    assert h.row(2)["accuracy"] == 0.6


def test_finite_batch_losses_whose_mean_overflows_are_a_divergence():
    X, y = _data(4)
    net = cr.Network([3, 1], activation="identity", seed=0)
    Y = np.full((4, 1), 1.3e154)  # each squared error near 0.85e308: finite; their sum is not
    h = cr.fit(net, X, Y, epochs=2, batch_size=1, optimizer=cr.SGD(lr=1e-300), shuffle=False, verbose=0)
    assert h.status == "diverged" and "the mean loss of epoch 1 became inf" in h.stopped and h.loss == []
    assert "the weights that gave the last finite loss" in h.stopped and "epoch 1, batch 4)" in h.stopped
    assert np.isfinite(net._flat).all() and h.to_dict()["loss"] == []


@pytest.mark.parametrize("make", [lambda: cr.SGD(lr=1e300, momentum=0.9), lambda: cr.Adam(lr=1e300)])
def test_after_divergence_the_optimizer_can_train_again(make):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    net = cr.Network([3, 5, 2], activation="relu", output_activation="identity", seed=0)
    opt = make()
    h = cr.fit(net, X, Y, loss="squared_error", epochs=3, batch_size=8, optimizer=opt, verbose=0)
    assert h.status == "diverged"
    assert not opt._state  # momenta that may have seen the NaN or inf are forgotten
    opt.lr = 0.01  # the user lowers the learning rate and goes on with the same optimizer
    h2 = cr.fit(net, X, Y, loss="squared_error", epochs=3, batch_size=8, optimizer=opt, verbose=0)
    assert h2.status == "completed" and np.isfinite(net._flat).all()


def test_a_checkpoint_with_a_loss_a_file_cannot_name_is_refused_before_training(tmp_path):
    class Mine(cr.Loss):
        name = "mine"

        def C0(self, a, y, z=None):
            return ((a - y) ** 2).sum(axis=1)

        def dC0_da(self, a, y):
            return 2 * (a - y)

    net = cr.Network([2, 2], seed=0)
    before = net._flat.copy()
    with pytest.raises(cr.ChainruleError, match=r"checkpoint: a model file names its loss, and 'mine' \(Mine\)"):
        cr.fit(net, np.ones((4, 2)), np.ones((4, 2)), loss=Mine(), checkpoint=tmp_path / "ck.npz", verbose=0)
    np.testing.assert_array_equal(net._flat, before)  # nothing trained, nothing lost
