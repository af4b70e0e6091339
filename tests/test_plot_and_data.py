"""The picture of an explanation, and reading X and Y from files."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import article_example, load_dataset, load_xy
from chainrule.plot import plot_explanation

pytest.importorskip("matplotlib")


def _explained(**kw):
    net = cr.Network([3, 4, 2], activation="tanh", seed=0)
    X, Y = np.random.default_rng(0).normal(size=(4, 3)), np.random.default_rng(1).normal(size=(4, 2))
    return cr.explain(net, X, Y, **kw)


def test_png_and_svg(tmp_path):
    e = _explained(layer=2, j=1, k=2)
    fig = plot_explanation(e, tmp_path / "w.png")
    assert (tmp_path / "w.png").read_bytes()[:4] == b"\x89PNG"
    plot_explanation(e, tmp_path / "w.svg")
    svg = (tmp_path / "w.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("w_{1,2}^{(2)}" in t for t in texts)  # the explained weight is labelled
    assert any(f"{e.term3[0]:.4g}" in t for t in texts)  # a_k^(l-1), the third term
    assert len(fig.axes) == 1


def test_colour_by_gradient_adds_a_scale(tmp_path):
    e = _explained(layer=1, j=0, k=1)
    fig = plot_explanation(e, tmp_path / "g.png", color_by_gradient=True)
    assert len(fig.axes) == 2  # the network and its colour bar


def test_bias_and_sample_choice():
    e = _explained(layer=1, j=3, bias=True)
    fig = plot_explanation(e, sample=2)
    assert "sample 2" in fig.axes[0].get_title()
    with pytest.raises(cr.ChainruleError, match=r"sample = 4 is out of range: the explanation holds samples 0..3"):
        plot_explanation(e, sample=4)


def test_article_example_has_the_articles_weight():
    net, x, y = article_example()
    assert net.sizes == (2, 3, 2) and net.b is None and [g.name for g in net.g] == ["sigmoid", "sigmoid"]
    assert net.W[2][1, 2] == 0.5  # w_12^(L)


def test_csv_with_and_without_header(tmp_path):
    (tmp_path / "h.csv").write_text("a,b,label\n1,2,0\n3,4,1\n")
    X, Y = load_xy(tmp_path / "h.csv", 2)
    assert X.tolist() == [[1, 2], [3, 4]] and Y.tolist() == [0, 1]
    (tmp_path / "n.csv").write_text("1,2,0.5,0.25\n3,4,1,0\n")
    X, Y = load_xy(tmp_path / "n.csv", 2)
    assert Y.shape == (2, 2)


@pytest.mark.parametrize(
    "content,n,match",
    [
        ("a,b\n1,2\n", 2, r"has 2 columns; the network takes n_0 = 2 inputs, so it needs at least 3"),
        ("1,2,3\n1,2\n", 2, r"line 2: 2 columns, expected 3"),
        ("x,y,z\n1,?,3\n", 2, r"line 2, column 'y': missing value '\?'"),
        ("x,y,z\n1,cat,3\n", 2, r"line 2, column 'y': 'cat' is not a number"),
        ("x,y,z\n1,,3\n", 2, r"line 2, column 'y': missing value ''"),
        ("", 2, r"is empty"),
    ],
)
def test_csv_errors(tmp_path, content, n, match):
    (tmp_path / "d.csv").write_text(content)
    with pytest.raises(cr.ChainruleError, match=match):
        load_xy(tmp_path / "d.csv", n)


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "a.npz", inputs=np.ones((2, 2)))
    with pytest.raises(cr.ChainruleError, match=r"needs arrays named X and Y; it has inputs"):
        load_xy(tmp_path / "a.npz", 2)
    np.savez(tmp_path / "p.npz", X=np.array([{"a": 1}], dtype=object), Y=np.ones(1))
    with pytest.raises(cr.ChainruleError, match=r"holds pickled Python objects in .X.; chainrule never unpickles"):
        load_xy(tmp_path / "p.npz", 2)
    (tmp_path / "d.txt").write_text("1,2")
    with pytest.raises(cr.ChainruleError, match=r"data files are \.npz \(arrays X and Y\) or \.csv; got '\.txt'"):
        load_xy(tmp_path / "d.txt", 2)
    with pytest.raises(FileNotFoundError, match=r"no data file at this path") as info:  # an OSError naming the path
        load_xy(tmp_path / "none.csv", 2)
    assert info.value.filename == str(tmp_path / "none.csv")


def test_plot_history(tmp_path):
    from chainrule.plot import plot_history

    X, y = load_dataset("xor")
    net = cr.Network([2, 6, 2], activation="tanh", output_activation="softmax", seed=0)
    h = cr.fit(net, X, y, loss="cross_entropy", epochs=5, batch_size=2, validation_data=(X, y), verbose=0)
    fig = plot_history(h, tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy"]
    assert len(fig.axes[0].lines) >= 2  # training and validation


def _history(**kw):
    from chainrule.train import History

    loss = [1.0, 0.6, 0.4, 0.35, 0.3]
    return History(loss=loss, lr=[0.1] * 5, seconds=[0.1] * 5, **kw)


def _labels(ax):
    return [line.get_label() for line in ax.lines]


def test_loss_curve_marks_no_best_epoch_without_a_selection(tmp_path):
    """fit notes the lowest loss of every run in best_epoch; without early stopping or restore_best
    nothing was selected, so nothing is marked (before, the last epoch was marked)."""
    from chainrule.plot import plot_history

    X, y = load_dataset("xor")
    net = cr.Network([2, 6, 2], activation="tanh", output_activation="softmax", seed=0)
    h = cr.fit(net, X, y, loss="cross_entropy", epochs=6, batch_size=2, verbose=0)
    assert h.best_epoch is not None and not h.val_loss  # fit notes one all the same
    fig = plot_history(h, tmp_path / "h.png")
    for ax in fig.axes:
        assert _labels(ax) == ["training"]
        assert not any("best" in label for label in _labels(ax))
    fig = plot_history(_history(val_loss=[1.1, 0.7, 0.5, 0.55, 0.6], best_epoch=3), restore_best=False)
    assert _labels(fig.axes[0]) == ["training", "validation"]


def test_loss_curve_marks_the_best_epoch_selected(tmp_path):
    from chainrule.plot import plot_history

    val = [1.1, 0.7, 0.5, 0.55, 0.6]
    # early stopping ended training: the History says so itself
    h = _history(val_loss=val, best_epoch=3, status="early_stopping")
    (ax,) = plot_history(h, tmp_path / "h.png").axes
    assert _labels(ax) == ["training", "validation", "best epoch 3 (lowest validation loss; early stopping)"]
    line = ax.lines[1]
    assert line.get_xdata().tolist() == [1, 2, 3, 4, 5] and line.get_ydata().tolist() == val
    assert ax.lines[2].get_xdata()[0] == 3
    # restore_best kept epoch 3's weights (a run that completed), and the test loss is theirs
    h = _history(val_loss=val, best_epoch=3)
    (ax,) = plot_history(h, restore_best=True, test={"loss": 0.52, "n": 40}).axes
    assert "best epoch 3 (lowest validation loss; its weights are kept)" in _labels(ax)
    test = next(line for line in ax.lines if line.get_label().startswith("test"))
    assert test.get_label() == "test (40 samples), the weights of epoch 3" and test.get_xdata().tolist() == [3]
    # without validation the best epoch is the training loss's
    (ax,) = plot_history(_history(best_epoch=5, status="early_stopping")).axes
    assert "best epoch 5 (lowest training loss; early stopping)" in _labels(ax)


def test_loss_curve_draws_test_curves_the_history_carries():
    from chainrule.plot import plot_history

    h = _history(accuracy=[0.5, 0.6, 0.7, 0.8, 0.9], val_loss=[1.1, 0.7, 0.5, 0.55, 0.6])
    h.test_loss, h.test_accuracy = [1.2, 0.8, 0.6, 0.6, 0.65], [0.4, 0.5, 0.6, 0.7, 0.7]
    fig = plot_history(h, test={"loss": 0.65, "accuracy": 0.7, "n": 9})
    loss_ax, acc_ax = fig.axes
    assert _labels(loss_ax)[:3] == ["training", "validation", "test"]
    assert loss_ax.lines[2].get_ydata().tolist() == h.test_loss
    assert _labels(acc_ax)[:2] == ["training", "test"] and acc_ax.lines[1].get_ydata().tolist() == h.test_accuracy
    assert acc_ax.lines[-1].get_label() == "test (9 samples), the weights of epoch 5"
    with pytest.raises(cr.ChainruleError, match=r"test must be evaluate's result"):
        plot_history(h, test=0.5)


def test_split_scaler_one_hot():
    from chainrule.data import Standardizer, one_hot, train_test_split

    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    a = train_test_split(X, y, 0.3, seed=1)
    b = train_test_split(X, y, 0.3, seed=1)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    Xtr, Xte, ytr, yte = a
    assert len(Xte) == 3 and len(Xtr) == 7 and sorted([*ytr, *yte]) == list(range(10))
    s = Standardizer().fit(Xtr)
    np.testing.assert_allclose(s.transform(Xtr).mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(s.transform(Xtr).std(axis=0), 1)
    assert Standardizer().fit(np.ones((3, 2))).transform(np.ones((1, 2))).tolist() == [[0.0, 0.0]]  # constant
    back = Standardizer.from_dict(s.to_dict())
    np.testing.assert_array_equal(back.transform(Xte), s.transform(Xte))
    assert one_hot(np.array([1, 0])).tolist() == [[0, 1], [1, 0]]
    with pytest.raises(cr.ChainruleError, match=r"test_fraction must be between 0 and 1"):
        train_test_split(X, y, 1.0)
    with pytest.raises(cr.ChainruleError, match=r"not fitted"):
        Standardizer().transform(X)


def test_builtin_datasets():
    X, y = load_dataset("digits")
    assert X.shape == (1797, 64) and set(y) == set(range(10))
    X, y = load_dataset("iris")
    assert X.shape == (150, 4) and set(y) == {0, 1, 2}
    with pytest.raises(cr.ChainruleError, match=r"unknown dataset 'mnist'; valid names: digits, iris, xor"):
        load_dataset("mnist")


def test_loss_curve_of_a_run_that_exploded_is_drawn(tmp_path):
    from chainrule.plot import plot_history
    from chainrule.train import History

    h = History(loss=[1.6e8, 6.7e16, 1.7e270, 1.2e300], lr=[1.0] * 4, seconds=[0.1] * 4, best_epoch=1)
    fig = plot_history(h, tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert "above 1e250 drawn at 1e250" in fig.axes[0].get_title()


def test_a_history_with_no_epochs_is_refused_clearly():
    from chainrule.plot import plot_history
    from chainrule.train import History

    with pytest.raises(cr.ChainruleError, match=r"the History has no epochs to draw \(training diverged"):
        plot_history(History(status="diverged", stopped="diverged: the loss became nan at epoch 1, batch 1"))
