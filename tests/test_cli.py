"""The chainrule command end to end, in a temporary folder, as a user runs it."""

import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.data import article_example
from chainrule.io import read_metadata
from chainrule.render import num


def run(*args, cwd=None):
    """The command as a separate process: what a user sees, exit status included."""
    return subprocess.run([sys.executable, "-m", "chainrule", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def model_and_data(tmp_path):
    rng = np.random.default_rng(0)
    net = cr.Network([4, 5, 3], activation="tanh", output_activation="softmax", seed=0)
    net.save(tmp_path / "model.npz", loss="cross_entropy")
    X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    np.savez(tmp_path / "data.npz", X=X, Y=y)
    csv = "\n".join(["x0,x1,x2,x3,label"] + [",".join(map(str, [*row, lab])) for row, lab in zip(X, y)])
    (tmp_path / "data.csv").write_text(csv + "\n")
    return net, X, y, tmp_path


def test_explain_with_no_model_is_the_articles_weight():
    out = run("explain")
    assert out.returncode == 0, out.stderr
    net, x, y = article_example()
    e = cr.explain(net, x, y, layer=2, j=1, k=2)
    assert "w_{1,2}^(2)" in out.stdout and "from node 2 of layer 1 to node 1 of layer 2" in out.stdout
    for value in (e.term1[0], e.term2[0], e.term3[0], e.products[0]):
        assert num(value) in out.stdout


def test_explain_a_saved_model_on_npz_and_csv(model_and_data, capsys):
    net, X, y, tmp = model_and_data
    e = cr.explain(net, X, y, layer=1, j=4, k=3, loss="cross_entropy")
    for data in ("data.npz", "data.csv"):
        assert (
            main(
                [
                    "explain",
                    "--model",
                    str(tmp / "model.npz"),
                    "--data",
                    str(tmp / data),
                    "--layer",
                    "1",
                    "--j",
                    "4",
                    "--k",
                    "3",
                ]
            )
            == 0
        )
        out = capsys.readouterr().out
        assert "loss cross_entropy" in out  # taken from the model file
        assert num(e.mean) in out and "(1/6)" in out


def test_explain_one_sample_bias_and_formats(model_and_data, capsys):
    net, X, y, tmp = model_and_data
    args = ["explain", "--model", str(tmp / "model.npz"), "--data", str(tmp / "data.npz")]
    assert main([*args, "--sample", "2", "--bias", "--j", "0", "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    e = cr.explain(net, X, y, layer=2, j=0, bias=True, sample=2, loss="cross_entropy")
    assert md.startswith("### dC/db_0^(2)") and num(e.mean) in md and "| term | formula | numbers | value |" in md
    assert main([*args, "--format", "latex"]) == 0
    tex = capsys.readouterr().out
    assert tex.startswith("\\documentclass{article}") and "\\end{document}" in tex


@pytest.mark.parametrize("suffix,magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_explain_plot(tmp_path, suffix, magic):
    target = tmp_path / f"weight{suffix}"
    out = run("explain", "--plot", str(target), "--color-by-gradient")
    assert out.returncode == 0, out.stderr
    assert target.read_bytes().startswith(magic)
    assert f"picture written to {target}" in out.stderr


def test_gradcheck_command(model_and_data):
    _, _, _, tmp = model_and_data
    ok = run("gradcheck", "--model", str(tmp / "model.npz"), "--data", str(tmp / "data.csv"))
    assert ok.returncode == 0, ok.stderr
    assert "W[1]" in ok.stdout and "b[2]" in ok.stdout and "OK" in ok.stdout
    strict = run("gradcheck", "--tol", "1e-30")
    assert strict.returncode == 1 and "FAILED" in strict.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["explain", "--layer", "0"], "--layer 0 is out of range: weights live in layers 1..2"),
        (["explain", "--j", "7"], "j = 7 is out of range: layer 2 has nodes 0..1"),
        (["explain", "--layer", "x"], "argument --layer: invalid int value: 'x'"),
        (["explain", "--format", "pdf"], "argument --format: invalid choice: 'pdf'"),
        (["explain", "--data", "d.npz"], "--data needs --model"),
        (["explain", "--model", "m.npz"], "--model needs --data"),
        (["explain", "--model", "missing.npz", "--data", "d.csv"], "no model file at this path: missing.npz"),
        (["gradcheck", "--loss", "hinge"], "argument --loss: invalid choice: 'hinge'"),
        (["fit"], "argument COMMAND: invalid choice: 'fit'"),
    ],
)
def test_user_mistakes_give_one_line_and_exit_2(tmp_path, args, message):
    out = run(*args, cwd=tmp_path)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_corrupt_model_and_bad_data_files(model_and_data):
    _, _, _, tmp = model_and_data
    (tmp / "bad.npz").write_bytes(b"PK\x03\x04 not really")
    out = run("explain", "--model", str(tmp / "bad.npz"), "--data", str(tmp / "data.npz"))
    assert out.returncode == 2 and "not an .npz archive" in out.stderr and "Traceback" not in out.stderr
    (tmp / "words.csv").write_text("a,b,c,d,e\n1,2,3,4,x\n")
    out = run("explain", "--model", str(tmp / "model.npz"), "--data", str(tmp / "words.csv"))
    assert out.returncode == 2 and "line 2, column 'e': 'x' is not a number" in out.stderr
    np.savez(tmp / "wrong.npz", X=np.ones((2, 7)), Y=np.zeros(2, dtype=int))
    out = run("explain", "--model", str(tmp / "model.npz"), "--data", str(tmp / "wrong.npz"))
    assert out.returncode == 2 and "X has 7 columns but layer 0 (the input layer) has n_0 = 4 nodes" in out.stderr


@pytest.mark.parametrize("command", [[], ["explain"], ["gradcheck"], ["train"], ["predict"], ["evaluate"]])
def test_help_everywhere(command):
    out = run(*command, "--help")
    assert out.returncode == 0 and "usage: chainrule" in out.stdout


def test_train_with_no_arguments_on_digits(tmp_path):
    out = run("train", "--epochs", "15", "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "on the built-in digits data" in out.stdout and "test accuracy" in out.stdout
    acc = float(out.stdout.split("test accuracy ")[1].split()[0])
    assert acc >= 0.95
    # everything goes into a fresh folder, and the output says where
    assert "saved in chainrule-run-1/: model.npz" in out.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chainrule-run-1"]
    folder = tmp_path / "chainrule-run-1"
    for name in ("model.npz", "test.npz", "loss.png"):
        assert (folder / name).exists()
    assert (folder / "loss.png").read_bytes()[:4] == b"\x89PNG"
    # the printed explain command works as printed
    lines = out.stdout.strip().splitlines()
    command = lines[-3].split()
    assert command[:2] == ["chainrule", "explain"]
    assert lines[-1].split() == [
        "chainrule",
        "explore",
        "--model",
        "chainrule-run-1/model.npz",
        "--data",
        "chainrule-run-1/test.npz",
    ]
    ex = run(*command[1:], cwd=tmp_path)
    assert ex.returncode == 0, ex.stderr
    assert "equals backprop's entry" in ex.stdout
    ev = run("evaluate", "--model", "model.npz", "--data", "test.npz", cwd=folder)
    assert ev.returncode == 0 and f"accuracy: {acc:.4f}" in ev.stdout and "confusion matrix" in ev.stdout
    pr = run("predict", "--model", "model.npz", "--data", "test.npz", cwd=folder)
    lines = pr.stdout.strip().splitlines()
    assert pr.returncode == 0 and lines[0].startswith("prediction,a0") and len(lines) == 1 + 359


def _spy(monkeypatch, name):
    """Keep the figures that chainrule.plot's ``name`` returns while the command runs."""
    import chainrule.plot

    real, figures = getattr(chainrule.plot, name), []

    def spy(*args, **kwargs):
        figures.append(real(*args, **kwargs))
        return figures[-1]

    monkeypatch.setattr(chainrule.plot, name, spy)
    return figures


def test_train_loss_curve_marks_the_best_epoch_only_with_early_stopping(tmp_path, monkeypatch, capsys):
    figures = _spy(monkeypatch, "plot_history")
    args = ["train", "--dataset", "iris", "--epochs", "25", "--quiet", "--validation-fraction", "0.2"]
    assert main([*args, "--out", str(tmp_path / "plain")]) == 0
    assert main([*args, "--early-stopping", "3", "--out", str(tmp_path / "stopped")]) == 0
    capsys.readouterr()
    plain, stopped = ([line.get_label() for line in fig.axes[0].lines] for fig in figures)
    assert plain[:2] == ["training", "validation"] and not any(label.startswith("best") for label in plain)
    assert any(label.startswith("best epoch") and "its weights are kept" in label for label in stopped)
    assert any(label.startswith("test (30 samples)") for label in plain)  # the test loss, at the last epoch
    assert (tmp_path / "stopped" / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_explain_plot_draws_the_digit_as_in_the_data_file(tmp_path, monkeypatch, capsys):
    assert main(["train", "--epochs", "1", "--quiet", "--no-plot", "--out", str(tmp_path)]) == 0
    figures = _spy(monkeypatch, "plot_explanation")
    model = ["--model", str(tmp_path / "model.npz"), "--data", str(tmp_path / "test.npz")]
    picture = tmp_path / "w.png"
    assert (
        main(["explain", *model, "--layer", "1", "--j", "6", "--k", "12", "--sample", "3", "--plot", str(picture)]) == 0
    )
    capsys.readouterr()
    (image,) = figures[0].axes[0].images
    np.testing.assert_array_equal(image.get_array(), np.load(tmp_path / "test.npz")["X"][3].reshape(8, 8))
    assert picture.read_bytes()[:4] == b"\x89PNG"


def test_train_on_a_csv_with_any_labels(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    y = np.where(X[:, 0] > 0, 5, 7)
    rows = "\n".join(f"{a},{b},{c}" for (a, b), c in zip(X, y))
    (tmp_path / "d.csv").write_text("f1,f2,kind\n" + rows + "\n")
    out = run(
        "train",
        "--data",
        "d.csv",
        "--target",
        "kind",
        "--epochs",
        "40",
        "--no-plot",
        "--quiet",
        "--layers",
        "8",
        "--out",
        "run",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "2-8-2" in out.stdout and not (tmp_path / "run" / "loss.png").exists()
    pr = run("predict", "--model", "run/model.npz", "--data", "d.csv", "--target", "kind", cwd=tmp_path)
    preds = [line.split(",")[0] for line in pr.stdout.strip().splitlines()[1:]]
    assert set(preds) <= {"5", "7"} and np.mean(np.array(preds, dtype=int) == y) > 0.9


def test_train_a_poisson_regression_gets_the_exp_output_it_needs(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 2))
    y = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1]))
    rows = "\n".join(f"{a},{b},{c}" for (a, b), c in zip(X, y))
    (tmp_path / "counts.csv").write_text("f1,f2,count\n" + rows + "\n")
    args = ["--data", str(tmp_path / "counts.csv"), "--target", "count", "--task", "regression", "--loss", "poisson"]
    run_dir = tmp_path / "run"
    assert main(["train", *args, "--epochs", "20", "--layers", "6", "--no-plot", "--quiet", "--out", str(run_dir)]) == 0
    assert "relu, exp output, poisson)" in capsys.readouterr().out  # the output the loss needs, unasked
    net = cr.Network.load(run_dir / "model.npz")
    assert net.g[net.L].name == "exp" and read_metadata(run_dir / "model.npz")["loss"] == "poisson"
    model = ["--model", str(run_dir / "model.npz"), "--data", str(run_dir / "test.npz")]
    assert main(["explain", *model, "--layer", "2", "--j", "0", "--k", "1"]) == 0
    out = capsys.readouterr().out
    assert "loss poisson: C0 = sum_j [y_j log(y_j / a_j) - y_j + a_j]" in out and "equals backprop's entry" in out
    assert main(["evaluate", *model]) == 0
    assert "loss (poisson): " in capsys.readouterr().out


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "--data", "d.csv", "--target", "nope"], "has no column 'nope'; its columns: f1, f2, kind"),
        (["train", "--data", "one.csv", "--target", "kind"], "the target has a single class (3)"),
        (["train", "--data", "gap.csv"], "line 3, column 'f2': missing value ''"),
        (["train", "--data", "text.csv"], "line 2, column 'f1': 'red' is not a number"),
        (["train", "--layers", "8,x"], "argument --layers: '8,x' is not a comma-separated list"),
        (["train", "--dataset", "mnist"], "argument --dataset: invalid choice: 'mnist'"),
        (["predict", "--model", "model.npz"], "the following arguments are required: --data"),
    ],
)
def test_train_mistakes(tmp_path, args, message):
    (tmp_path / "d.csv").write_text("f1,f2,kind\n1,2,0\n3,4,1\n")
    (tmp_path / "one.csv").write_text("f1,f2,kind\n1,2,3\n3,4,3\n5,6,3\n")
    (tmp_path / "gap.csv").write_text("f1,f2,kind\n1,2,0\n3,,1\n")
    (tmp_path / "text.csv").write_text("f1,f2,kind\nred,2,0\n")
    out = run(*args, cwd=tmp_path)
    assert out.returncode == 2, out.stdout
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_example_script_runs_and_agrees():
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "examples" / "article_part4.py"
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    net, x, y = article_example()
    e = cr.explain(net, x, y, layer=2, j=1, k=2)
    assert num(e.products[0]) in out.stdout and "central finite differences agree" in out.stdout


def test_predict_on_a_csv_of_inputs_alone(model_and_data):
    net, X, _, tmp = model_and_data
    (tmp / "inputs.csv").write_text("\n".join(",".join(map(str, row)) for row in X) + "\n")
    out = run("predict", "--model", str(tmp / "model.npz"), "--data", str(tmp / "inputs.csv"))
    assert out.returncode == 0, out.stderr
    rows = out.stdout.strip().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == net.predict_classes(X).tolist()


def test_train_never_overwrites_a_run_without_force(tmp_path):
    first = run("train", "--dataset", "xor", "--epochs", "1", "--quiet", "--test-fraction", "0.25", cwd=tmp_path)
    second = run("train", "--dataset", "xor", "--epochs", "1", "--quiet", "--test-fraction", "0.25", cwd=tmp_path)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "saved in chainrule-run-2/" in second.stdout  # the default is a fresh folder each time
    model = tmp_path / "chainrule-run-1" / "model.npz"
    before = model.read_bytes()
    args = ["train", "--dataset", "xor", "--epochs", "2", "--quiet", "--test-fraction", "0.25", "--seed", "3"]
    refused = run(*args, "--out", "chainrule-run-1", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stdout == ""  # refused before anything ran
    assert "already holds model.npz, test.npz, loss.png" in refused.stderr and "--force" in refused.stderr
    assert model.read_bytes() == before
    forced = run(*args, "--out", "chainrule-run-1", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert model.read_bytes() != before


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_divergence_in_the_first_epoch_saves_the_initial_weights_and_exits_1(tmp_path, optimizer):
    out = run(
        "train", "--epochs", "3", "--quiet", "--lr", "1e300", "--optimizer", optimizer, "--out", "r", cwd=tmp_path
    )
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr and "Warning" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "diverged" in lines[0] and "r/model.npz" in lines[0]
    net = cr.Network.load(tmp_path / "r" / "model.npz")
    initial = cr.Network([64, 64, 10], activation="relu", output_activation="softmax", seed=0)
    for l in range(1, net.L + 1):
        assert np.isfinite(net.W[l]).all()
    # the very first step diverged, so the weights kept are the initial ones
    np.testing.assert_array_equal(net.W[1], initial.W[1])


def test_divergence_later_keeps_the_last_finite_weights_and_exits_1(tmp_path):
    out = run("train", "--epochs", "5", "--quiet", "--lr", "100", "--momentum", "0", "--out", "r", cwd=tmp_path)
    assert out.returncode == 1
    assert "diverged" in out.stderr and "Traceback" not in out.stderr
    net = cr.Network.load(tmp_path / "r" / "model.npz")
    assert all(np.isfinite(net.W[l]).all() for l in range(1, net.L + 1))


@pytest.mark.parametrize(
    "args,message",
    [
        (["--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
        (["--epochs", "2.5"], "argument --epochs: '2.5' is not a whole number"),
        (["--batch-size", "0"], "argument --batch-size: must be >= 1, got 0"),
        (["--lr", "-1"], "argument --lr: must be > 0, got -1"),
        (["--lr", "nan"], "argument --lr: must be > 0, got nan"),
        (["--momentum", "1"], "argument --momentum: must be >= 0 and < 1, got 1"),
        (["--test-fraction", "1"], "argument --test-fraction: must be between 0 and 1"),
        (["--seed", "-1"], "argument --seed: must be >= 0"),
        (["--layers", "0"], "layer sizes must be >= 1"),
        (["--layers", "1000000000000"], "too large"),
        (["--target", "x"], "--target chooses a column of a CSV"),
    ],
)
def test_train_options_are_checked_before_anything_runs(tmp_path, args, message):
    out = run("train", *args, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stdout == "" and message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_banner_says_which_layers_are_hidden(tmp_path):
    out = run("train", "--dataset", "iris", "--layers", "6,5", "--epochs", "1", "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "training 4-6-5-3 (inputs 4, hidden layers 6, 5, outputs 3;" in out.stdout


@pytest.mark.parametrize("command", ["train", "explain", "gradcheck", "predict", "evaluate"])
def test_every_option_says_its_default(command):
    from chainrule.cli import _parser

    sub = next(a for a in _parser()._actions if a.dest == "command").choices[command]
    for action in sub._actions:
        if action.dest == "help" or action.required:
            continue
        assert "default" in sub._get_formatter()._get_help_string(action) % {"default": action.default}, (
            f"chainrule {command} {action.option_strings[0]} does not say its default"
        )


@pytest.mark.parametrize(
    "where", ["chainrule.cli.load_dataset", "chainrule.cli.evaluate", "chainrule.cli.Network.save"]
)
def test_ctrl_c_outside_training_is_one_line_and_exit_130(tmp_path, monkeypatch, capsys, where):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(where, interrupted)
    assert main(["train", "--dataset", "xor", "--epochs", "1", "--quiet", "--test-fraction", "0.25"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "chainrule train: interrupted (Ctrl-C)"
    # nothing half-written: no temporary files, and a model is there only if its save finished
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_ctrl_c_during_training_saves_the_weights_and_exits_130(tmp_path):
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "train", "--epochs", "100000", "--quiet", "--out", "r"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    banner = proc.stdout.readline()  # training has started when the banner is out
    assert banner.startswith("training 64-64-10")
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "interrupted" in err
    net = cr.Network.load(tmp_path / "r" / "model.npz")
    assert net.sizes == (64, 64, 10)


def test_target_on_an_npz_file_is_an_error(model_and_data):
    _, _, _, tmp = model_and_data
    out = run("train", "--data", str(tmp / "data.npz"), "--target", "label", cwd=tmp)
    assert out.returncode == 2 and "--target" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_plot_to_an_unknown_suffix_is_refused_before_any_work(tmp_path):
    out = run("explain", "--plot", "x.txt", cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert "--plot: path 'x.txt' has the suffix '.txt'; a picture is saved as .png, .svg, .pdf" in out.stderr


def test_train_says_which_column_is_the_target_and_refuses_a_guess(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    label = (X[:, 0] > 0).astype(int)
    rows = [",".join(map(str, [lab, *x])) for lab, x in zip(label, X)]
    (tmp_path / "first.csv").write_text("label,a,b,c\n" + "\n".join(rows) + "\n")
    refused = run("train", "--data", "first.csv", "--epochs", "1", "--quiet", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "which column is the target?" in refused.stderr and "give --target NAME" in refused.stderr
    assert "columns: label, a, b, c" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    chosen = run("train", "--data", "first.csv", "--target", "label", "--epochs", "1", "--quiet", cwd=tmp_path)
    assert chosen.returncode == 0 and "(target: column 'label')" in chosen.stdout
    rows = [",".join(map(str, [*x, lab])) for lab, x in zip(label, X)]
    (tmp_path / "last.csv").write_text("a,b,c,label\n" + "\n".join(rows) + "\n")
    guessed = run("train", "--data", "last.csv", "--epochs", "1", "--quiet", cwd=tmp_path)
    assert guessed.returncode == 0 and "(target: column 'label' (the last))" in guessed.stdout


def test_a_closed_pipe_ends_predict_quietly(model_and_data):
    _, _, _, tmp = model_and_data
    big = np.random.default_rng(1).normal(size=(20000, 4))
    np.savez(tmp / "big.npz", X=big, Y=np.zeros(20000, dtype=int))
    cmd = f"{sys.executable} -m chainrule predict --model model.npz --data big.npz | head -1"
    out = subprocess.run(["bash", "-c", cmd], cwd=tmp, capture_output=True, text=True)
    assert out.stdout.startswith("prediction,") and out.stderr == ""


def test_a_huge_argument_gives_a_short_message(tmp_path):
    out = run("train", "--task", "1" * 5000, cwd=tmp_path)
    assert out.returncode == 2 and len(out.stderr) < 400 and len(out.stderr.strip().splitlines()) == 1


def test_run_exits_with_the_status_and_ignores_a_late_ctrl_c(monkeypatch):
    import signal

    from chainrule import cli

    monkeypatch.setattr(cli, "main", lambda argv=None: 0)
    old = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as info:
            cli.run([])
        assert info.value.code == 0
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # finished: a late Ctrl-C changes nothing
    finally:
        signal.signal(signal.SIGINT, old)


def test_a_second_ctrl_c_while_the_first_is_reported_still_exits_130(monkeypatch):
    import signal

    from chainrule import cli

    def interrupted(argv=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "main", interrupted)
    old = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as info:
            cli.run([])
        assert info.value.code == 130
    finally:
        signal.signal(signal.SIGINT, old)


def test_two_runs_started_together_get_their_own_folders(tmp_path, monkeypatch):
    from chainrule.cli import _fresh_folder

    monkeypatch.chdir(tmp_path)
    folders = [_fresh_folder("chainrule-run") for _ in range(3)]
    assert [f.name for f in folders] == ["chainrule-run-1", "chainrule-run-2", "chainrule-run-3"]
    assert all(f.is_dir() for f in folders)  # made at once: the next run cannot take the same name


def test_an_out_path_that_cannot_be_a_folder_fails_before_training(tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    out = run("train", "--dataset", "xor", "--epochs", "1", "--quiet", "--out", "afile/run", cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == "" and len(out.stderr.strip().splitlines()) == 1


def test_a_run_whose_out_folder_was_taken_meanwhile_saves_beside_it(tmp_path, monkeypatch, capsys):
    import chainrule.cli as cli

    monkeypatch.chdir(tmp_path)
    real_fit = cli.fit

    def fit_while_another_run_writes(*args, **kwargs):
        (tmp_path / "run").mkdir(exist_ok=True)
        (tmp_path / "run" / "model.npz").write_bytes(b"the other run's model")
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(cli, "fit", fit_while_another_run_writes)
    args = ["train", "--dataset", "xor", "--epochs", "1", "--quiet", "--test-fraction", "0.25", "--out", "run"]
    assert main(args) == 0
    assert (tmp_path / "run" / "model.npz").read_bytes() == b"the other run's model"  # not overwritten
    assert cr.Network.load(tmp_path / "run-1" / "model.npz").sizes == (2, 64, 2)
    assert "run was written by another run meanwhile; saving in run-1" in capsys.readouterr().err


def test_ctrl_c_while_the_results_are_written_is_held_until_they_are(tmp_path, monkeypatch, capsys):
    import os
    import signal

    import chainrule.cli as cli

    monkeypatch.chdir(tmp_path)
    real_save = cr.Network.save

    def save_with_ctrl_c(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C just as the model is being saved
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(cli.Network, "save", save_with_ctrl_c)
    old = signal.getsignal(signal.SIGINT)
    args = ["train", "--dataset", "xor", "--epochs", "1", "--quiet", "--test-fraction", "0.25", "--out", "r"]
    assert main(args) == 130
    assert signal.getsignal(signal.SIGINT) is old
    for name in ("model.npz", "test.npz", "loss.png"):
        assert (tmp_path / "r" / name).exists()
    assert "interrupted (Ctrl-C) after training; saved in r/model.npz" in capsys.readouterr().err


def test_ctrl_c_while_the_command_is_still_loading_is_one_line_and_exit_130(monkeypatch, capsys):
    import builtins

    import chainrule_launch

    real_import = builtins.__import__

    def interrupted(name, *args, **kwargs):
        if name == "chainrule.cli":  # Ctrl-C while Python imports NumPy and chainrule
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted)
    with pytest.raises(SystemExit) as info:
        chainrule_launch.main()
    assert info.value.code == 130
    assert capsys.readouterr().err == "chainrule: interrupted (Ctrl-C)\n"


def test_the_console_script_runs_the_command(tmp_path):
    from pathlib import Path

    script = Path(sys.executable).parent / "chainrule"  # installed beside this Python by pip
    assert script.exists(), f"the chainrule console script is not installed at {script}"
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("chainrule ")
