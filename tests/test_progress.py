"""fit(verbose=1) wherever it runs: a bar on a terminal, one display updated in place in Jupyter, and
plain throttled lines in a log file or a pipe. Each place is simulated: a stream that says it is a
terminal or not, a faked IPython kernel, a clock the test moves."""

from __future__ import annotations

import io
import re
import sys
import types

import numpy as np
import pytest

import chainrule as cr
from chainrule import train
from chainrule.train import _Progress


class Clock:
    """A clock the test sets."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return cr.Network([2, 4, 2], activation="tanh", output_activation="softmax", seed=0), X, y


def _fit(**kw):
    net, X, y = _problem()
    return cr.fit(net, X, y, loss="cross_entropy", batch_size=16, **kw)


LINE = re.compile(
    r"^epoch +(\d+)/(\d+)  loss (\S+)  accuracy (\S+)(?:  val_loss (\S+)  val_accuracy (\S+))?  elapsed (\S+)s$"
)


def _lines(text: str) -> list[re.Match]:
    lines = text.strip().splitlines()
    matches = [LINE.match(line) for line in lines]
    assert all(matches), lines
    return matches  # type: ignore[return-value]


# ---------------------------------------------------------------- a log file or a pipe
def test_a_log_gets_a_line_per_epoch_with_its_numbers(capsys, monkeypatch):
    monkeypatch.setattr(train, "LOG_EVERY", 0.0)  # no throttling: every epoch
    h = _fit(epochs=4, validation_fraction=0.25)  # pytest's standard error is no terminal
    out, err = capsys.readouterr()
    assert out == ""
    lines = _lines(err)
    assert [int(m[1]) for m in lines] == [1, 2, 3, 4] and {m[2] for m in lines} == {"4"}
    for i, m in enumerate(lines):
        assert m[3] == f"{h.loss[i]:.4g}" and m[4] == f"{h.accuracy[i]:.4g}"
        assert m[5] == f"{h.val_loss[i]:.4g}" and m[6] == f"{h.val_accuracy[i]:.4g}"
    elapsed = [float(m[7]) for m in lines]
    assert elapsed == sorted(elapsed)


def test_fast_epochs_are_throttled_but_the_first_and_last_always_appear(capsys, monkeypatch):
    monkeypatch.setattr(train, "LOG_EVERY", 1e9)
    h = _fit(epochs=30)
    lines = _lines(capsys.readouterr().err)
    assert [int(m[1]) for m in lines] == [1, 30] and lines[-1][3] == f"{h.loss[-1]:.4g}"


def test_a_line_every_few_seconds_by_the_clock():
    clock, log = Clock(), io.StringIO()
    p = _Progress(100, 1, stream=log, clock=clock)
    for epoch in range(1, 101):
        clock.now = epoch * 0.7  # an epoch every 0.7 s: one line every 5 s is every 8th epoch
        p.update({"epoch": epoch, "loss": 1.0 / epoch, "lr": 0.1})
    p.close()
    lines = log.getvalue().splitlines()
    shown = [int(line.split()[1].split("/")[0]) for line in lines]
    assert shown == [1, *range(9, 100, 8), 100]
    assert lines[0] == "epoch   1/100  loss 1  elapsed 0.7s" and lines[-1] == "epoch 100/100  loss 0.01  elapsed 1m10s"
    assert np.all(np.diff(shown[1:-1]) * 0.7 >= train.LOG_EVERY)


def test_training_that_stops_early_still_shows_its_last_epoch(capsys, monkeypatch):
    monkeypatch.setattr(train, "LOG_EVERY", 1e9)

    class StopAt3(cr.Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 3:
                raise cr.StopTraining

    h = _fit(epochs=50, callbacks=[StopAt3()])
    lines = _lines(capsys.readouterr().err)
    assert h.epochs == 3 and [m[1] for m in lines] == ["1", "3"] and lines[-1][3] == f"{h.loss[2]:.4g}"


def test_close_shows_the_pending_epoch_once():
    clock, log = Clock(), io.StringIO()
    p = _Progress(10, 1, stream=log, clock=clock)
    p.update({"epoch": 1, "loss": 0.5, "lr": 0.1})
    p.update({"epoch": 2, "loss": 0.25, "lr": 0.1})
    p.close()
    p.close()
    assert log.getvalue() == "epoch  1/10  loss 0.5  elapsed 0.0s\nepoch  2/10  loss 0.25  elapsed 0.0s\n"


def test_verbose_0_and_no_standard_error_show_nothing(capsys, monkeypatch):
    _fit(epochs=2, verbose=0)
    assert capsys.readouterr() == ("", "")
    monkeypatch.setattr(sys, "stderr", None)  # pythonw: no standard error at all
    p = _Progress(3, 1)
    p.update({"epoch": 1, "loss": 1.0, "lr": 0.1})
    p.close()
    assert p.view is None


@pytest.mark.parametrize(
    "seconds,text", [(0.04, "0.0s"), (59.94, "59.9s"), (61, "1m01s"), (3599, "59m59s"), (3723.5, "1h02m03s")]
)
def test_elapsed_time_reads_well(seconds, text):
    assert train._duration(seconds) == text


# ---------------------------------------------------------------- a terminal
def test_a_terminal_gets_the_rich_bar(monkeypatch, capsys):
    pytest.importorskip("rich")
    monkeypatch.setenv("COLUMNS", "160")  # room for the whole line on the pretend terminal
    term = Terminal()
    p = _Progress(3, 1, stream=term)
    assert isinstance(p.view, train._Bar)
    for epoch in (1, 2, 3):
        p.update({"epoch": epoch, "loss": 0.5 / epoch, "accuracy": 0.9, "lr": 0.1})
        print(f"a callback's print {epoch}")  # standard output is no terminal here: it stays there
    p.close()
    text = term.getvalue()
    assert "epoch 3/3" in text and "loss 0.1667  accuracy 0.9" in text and "━" in text
    assert not LINE.search(text)  # not the plain lines
    assert "print" not in text and capsys.readouterr().out.splitlines() == [
        f"a callback's print {i}" for i in (1, 2, 3)
    ]


# ---------------------------------------------------------------- a notebook
class Handle:
    def __init__(self, first):
        self.shown = [first]

    def update(self, obj):
        self.shown.append(obj)


@pytest.fixture
def kernel(monkeypatch):
    """A faked IPython kernel: ``ipykernel`` imported, ``get_ipython()`` with a kernel, and
    ``IPython.display.display`` that records what it is given. Yields the handles made."""
    handles: list[Handle] = []

    def display(obj, display_id=False):
        assert display_id is True
        handles.append(Handle(obj))
        return handles[-1]

    shell = types.SimpleNamespace(kernel=object())
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    ipython_display = types.ModuleType("IPython.display")
    ipython_display.display = display
    ipython.display = ipython_display
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipython_display)
    yield handles


def test_a_notebook_gets_one_display_updated_in_place(kernel, capsys, monkeypatch):
    monkeypatch.setattr(train, "NOTEBOOK_EVERY", 0.0)
    h = _fit(epochs=3, validation_data=_problem()[1:])
    assert capsys.readouterr() == ("", "")  # nothing printed: it is all in the display
    (handle,) = kernel
    first, *updates = handle.shown
    assert repr(first) == "epoch 0/3  elapsed 0.0s" and len(updates) == 3
    for i, view in enumerate(updates):
        text = repr(view)
        assert text.startswith(f"epoch {i + 1}/3  loss {h.loss[i]:.4g}  accuracy {h.accuracy[i]:.4g}")
        assert f"val_loss {h.val_loss[i]:.4g}" in text and "elapsed" in text
        html = view._repr_html_()
        assert f'<progress value="{i + 1}" max="3"></progress>' in html and "&lt;" not in html
        assert text.replace("  ", "") in html.replace("  ", "")


def test_a_notebook_display_is_throttled_but_ends_on_the_last_epoch(kernel):
    clock = Clock()
    p = _Progress(1000, 1, clock=clock)
    for epoch in range(1, 1001):
        clock.now = epoch * 0.001  # a millisecond per epoch
        p.update({"epoch": epoch, "loss": 1.0 / epoch, "lr": 0.1})
    p.close()
    (handle,) = kernel
    shown = [v.row["epoch"] for v in handle.shown[1:]]
    assert shown[0] == 1 and shown[-1] == 1000 and len(shown) <= 1 + 1.0 / train.NOTEBOOK_EVERY + 1


def test_no_kernel_or_no_ipython_display_falls_back_to_lines(kernel, capsys, monkeypatch):
    monkeypatch.setattr(train, "LOG_EVERY", 0.0)
    monkeypatch.setattr(sys.modules["IPython"], "get_ipython", lambda: None)  # IPython, but a terminal one
    assert not train._in_notebook()
    _fit(epochs=2)
    assert len(_lines(capsys.readouterr().err)) == 2 and kernel == []
    monkeypatch.setattr(sys.modules["IPython"], "get_ipython", lambda: types.SimpleNamespace(kernel=object()))
    assert train._in_notebook()
    monkeypatch.setitem(sys.modules, "IPython.display", None)  # `from IPython.display import display` fails
    _fit(epochs=2)
    assert len(_lines(capsys.readouterr().err)) == 2 and kernel == []


def test_the_kernel_test_needs_ipykernel_and_survives_a_broken_ipython(monkeypatch):
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert not train._in_notebook()
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    broken = types.ModuleType("IPython")

    def get_ipython():
        raise RuntimeError("no shell")

    broken.get_ipython = get_ipython
    monkeypatch.setitem(sys.modules, "IPython", broken)
    assert not train._in_notebook()
