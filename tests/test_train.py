"""fit(): the article's full-batch step, reproducibility, early stopping, divergence, Ctrl-C, callbacks."""

import os
import signal

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import load_dataset

pytestmark = pytest.mark.usefixtures("each_backend")  # every test on each computational path


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def test_full_batch_step_is_w_minus_lr_times_the_mean_gradient():
    X, y = _data()
    net = cr.Network([3, 4, 2], activation="sigmoid", seed=0)
    expected = {l: net.W[l] - 0.3 * cr.gradients(net, X, y).dW[l] for l in (1, 2)}
    cr.fit(net, X, y, epochs=1, batch_size=None, optimizer=cr.SGD(lr=0.3), verbose=0)
    for l in (1, 2):
        np.testing.assert_allclose(net.W[l], expected[l], rtol=1e-14)


def test_minibatches_follow_the_seeded_order():
    X, y = _data(10)
    net = cr.Network([3, 2], activation="sigmoid", seed=0)
    ref = net.copy()
    order = np.random.default_rng(5).permutation(10)
    for first in range(0, 10, 4):
        idx = order[first : first + 4]
        g = cr.gradients(ref, X[idx], y[idx])
        ref.W[1] = ref.W[1] - 0.1 * g.dW[1]
        ref.b[1] = ref.b[1] - 0.1 * g.db[1]
    cr.fit(net, X, y, epochs=1, batch_size=4, optimizer=cr.SGD(lr=0.1), seed=5, verbose=0)
    np.testing.assert_allclose(net.W[1], ref.W[1], rtol=1e-14)


def test_same_seed_same_weights_bit_for_bit():
    X, y = _data()
    nets = [cr.Network([3, 5, 2], activation="relu", output_activation="softmax", seed=1) for _ in range(3)]
    for net, seed in zip(nets, (7, 7, 8)):
        cr.fit(
            net, X, y, loss="cross_entropy", epochs=5, batch_size=8, optimizer=cr.Adam(lr=0.01), seed=seed, verbose=0
        )
    for l in (1, 2):
        assert np.array_equal(nets[0].W[l], nets[1].W[l])
    assert not np.array_equal(nets[0].W[1], nets[2].W[1])


def test_history_records_loss_and_accuracy():
    X, y = _data(60)
    net = cr.Network([3, 8, 2], activation="tanh", output_activation="softmax", seed=0)
    h = cr.fit(
        net,
        X,
        y,
        loss="cross_entropy",
        epochs=20,
        batch_size=10,
        optimizer=cr.SGD(lr=0.2, momentum=0.9),
        validation_fraction=0.25,
        verbose=0,
    )
    assert h.epochs == 20 and h.classification
    assert len(h.accuracy) == len(h.val_loss) == len(h.val_accuracy) == len(h.lr) == 20
    assert h.loss[-1] < h.loss[0] and h.accuracy[-1] >= 0.9
    assert set(h.row(3)) == {"epoch", "loss", "lr", "accuracy", "val_loss", "val_accuracy"}
    assert h.to_dict()["best_epoch"] == h.best_epoch


def test_early_stopping_restores_the_best_epoch():
    X, y = _data(40)
    # validation targets are the opposite of the training ones: learning makes validation worse
    net = cr.Network([3, 6, 2], activation="tanh", output_activation="softmax", seed=0)
    snapshots = {}

    class Keep(cr.Callback):
        def on_epoch_end(self, epoch, logs):
            snapshots[epoch] = [W.copy() for W in net.W]

    h = cr.fit(
        net,
        X,
        y,
        loss="cross_entropy",
        epochs=50,
        batch_size=8,
        optimizer=cr.SGD(lr=0.1),
        validation_data=(X, 1 - y),
        early_stopping=3,
        callbacks=[Keep()],
        verbose=0,
    )
    assert h.stopped.startswith("early stopping at epoch") and h.epochs == h.best_epoch + 3
    assert h.val_loss[h.best_epoch - 1] == min(h.val_loss)
    for W, best in zip(net.W, snapshots[h.best_epoch]):
        np.testing.assert_array_equal(W, best)


def test_divergence_stops_and_keeps_the_last_good_weights():
    X, y = _data(40)
    net = cr.Network([3, 6, 1], activation="relu", output_activation="identity", seed=0)
    seen = [[W.copy() for W in net.W]]  # the initial weights, then those after every step

    class Watch(cr.Callback):
        def on_batch_end(self, batch, logs):
            seen.append([W.copy() for W in net.W])

    h = cr.fit(
        net,
        X * 100,
        y.astype(float) * 1e3,
        epochs=20,
        batch_size=8,
        optimizer=cr.SGD(lr=10.0),
        callbacks=Watch(),
        verbose=0,
    )
    assert h.stopped is not None and h.stopped.startswith("diverged")
    assert "smaller learning rate" in h.stopped
    for W in net.W:
        assert np.isfinite(W).all()
    assert np.isfinite(cr.cost(net, X * 100, y.astype(float) * 1e3))
    assert any(all(np.array_equal(a, b) for a, b in zip(net.W, s)) for s in seen)


def test_ctrl_c_stops_after_the_batch_and_keeps_the_weights():
    X, y = _data(40)
    net = cr.Network([3, 4, 2], activation="sigmoid", seed=0)
    after = {}

    class Interrupt(cr.Callback):
        def on_batch_end(self, batch, logs):
            if batch == 3:
                os.kill(os.getpid(), signal.SIGINT)
            after[batch] = [W.copy() for W in net.W]

    h = cr.fit(net, X, y, epochs=10, batch_size=8, callbacks=[Interrupt()], verbose=0)
    assert h.stopped.startswith("interrupted (Ctrl-C) at epoch 1, batch 3")
    assert max(after) == 3 and h.epochs == 0  # the part of epoch 1 is not recorded as an epoch
    for W, kept in zip(net.W, after[3]):
        np.testing.assert_array_equal(W, kept)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_callbacks_can_stop_training():
    X, y = _data()
    calls = []

    class StopAt2(cr.Callback):
        def on_epoch_end(self, epoch, logs):
            calls.append((epoch, round(logs["loss"], 12)))
            if epoch == 2:
                raise cr.StopTraining("enough")

    h = cr.fit(cr.Network([3, 2], seed=0), X, y, epochs=10, callbacks=[StopAt2()], verbose=0)
    assert h.epochs == 2 and h.stopped == "stopped by a callback at epoch 2: enough" and len(calls) == 2


def test_checkpoint_is_a_loadable_model(tmp_path):
    X, y = _data()
    net = cr.Network([3, 4, 2], seed=0)
    cr.fit(net, X, y, epochs=3, checkpoint=tmp_path / "ckpt.npz", verbose=0)
    back = cr.Network.load(tmp_path / "ckpt.npz")
    np.testing.assert_array_equal(back.W[2], net.W[2])
    assert cr.io.read_metadata(tmp_path / "ckpt.npz")["info"]["epoch"] == 3


def test_evaluate_and_predictions():
    X, y = load_dataset("xor")
    net = cr.Network([2, 8, 2], activation="tanh", output_activation="softmax", seed=3)
    cr.fit(net, X, y, loss="cross_entropy", epochs=300, batch_size=None, optimizer=cr.Adam(lr=0.05), verbose=0)
    r = cr.evaluate(net, X, y, loss="cross_entropy")
    assert r["accuracy"] == 1.0 and r["confusion"].tolist() == [[2, 0], [0, 2]] and r["n"] == 4
    assert net.predict_classes(X).tolist() == [0, 1, 1, 0]
    np.testing.assert_allclose(net.predict_proba(X).sum(axis=1), 1.0)
    with pytest.raises(
        cr.ChainruleError, match=r"predict_proba needs a softmax or sigmoid output layer; this one is tanh"
    ):
        cr.Network([2, 2], activation="tanh").predict_proba(X)


def test_regression_has_no_accuracy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    Y = X @ np.array([[1.0], [-2.0]])
    net = cr.Network([2, 1], activation="identity", seed=0)
    h = cr.fit(net, X, Y, loss="mse", epochs=100, batch_size=None, optimizer=cr.SGD(lr=0.1), verbose=0)
    assert not h.classification and h.accuracy == [] and h.loss[-1] < 1e-6
    assert "accuracy" not in cr.evaluate(net, X, Y, loss="mse")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"epochs": 0}, r"epochs must be a whole number >= 1; got 0"),
        ({"batch_size": 0}, r"batch_size must be a whole number >= 1; got 0"),
        ({"early_stopping": 0}, r"early_stopping \(the patience in epochs\) must be a whole number >= 1"),
        ({"validation_fraction": 1.5}, r"validation_fraction must be a finite number > 0 and < 1; got 1.5"),
        ({"validation_fraction": 0.2, "validation_data": ([[0, 0, 0]], [0])}, r"not both"),
        ({"optimizer": "lbfgs"}, r"unknown optimizer 'lbfgs'"),
    ],
)
def test_bad_arguments(kwargs, match):
    X, y = _data()
    with pytest.raises(cr.ChainruleError, match=match):
        cr.fit(cr.Network([3, 2], seed=0), X, y, verbose=0, **kwargs)


def test_float32_training_stays_float32():
    X, y = _data()
    net = cr.Network([3, 4, 2], dtype="float32", seed=0)
    cr.fit(net, X, y, epochs=2, optimizer=cr.Adam(), verbose=0)
    assert {p.dtype for _, _, p in net.parameters()} == {np.dtype(np.float32)}
