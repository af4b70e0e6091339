"""scikit-learn estimators benchmark: chainrule.sklearn's MLPClassifier / MLPRegressor against
scikit-learn's own, fit time and test score, with the same hyper-parameters in the same run.

Cases (each with solver adam, sgd and lbfgs):

* ``digits``: load_digits, a seeded stratified 80/20 split, inputs standardised on the training
  part, a 64-64-10 classifier;
* ``classify-20k``: make_classification, 25,000 x 40 (20 informative), five classes, 20,000 to
  train and 5,000 held out, hidden_layer_sizes=(64, 32) (adam: 15 epochs, as in the issue);
* ``friedman1``: make_friedman1 regression (5,000 x 10, noise 1), 80/20 split, standardised inputs
  and y (y by the training part's mean and standard deviation), hidden_layer_sizes=(64, 32).

Both estimators get one and the same keyword dict (hidden_layer_sizes, solver, random_state,
max_iter, batch_size, learning_rate_init, alpha, tol, ...); every parameter not in it is left
at its default, which both estimators share. ``tol=0`` makes every fit run its full ``max_iter``
epochs (L-BFGS iterations), so the two times measure the same amount of training; max_iter is
chosen so that scikit-learn's fit takes about 0.3-3 s on a 2-core machine. n_iter_ of both is
printed to show it. ConvergenceWarning is silenced.

Timing: the machine may be shared and noisy, and OpenBLAS's idle worker threads keep spinning
for a while after a library's last call and slow the next library's threads, so the two
contenders never alternate call by call. For each case and solver, scikit-learn fits once
untimed, then R times in a row; then chainrule fits once untimed (its first fit may compile
numba kernels), then R times in a row (R = 5, 2 with --quick, or --rounds). Each time is the
median of its R fits, with the min-max spread; the ratio is chainrule's median over
scikit-learn's (goal: at most 0.5). The test score (accuracy or R^2) comes from the models of
the timed fits (the same random_state each time, so they agree; a spread is shown if not);
goal: chainrule's score at least scikit-learn's minus 0.01. Each goal gets PASS or FAIL per row.
An exception from either side's fit (e.g. a parameter an estimator does not accept yet) prints
``ERROR: <message>`` for that row, and the run goes on.

Run (from the repository root; unset the OpenBLAS overrides this machine may set):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_sklearn.py --json sklearn.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

TIME_GOAL = 0.5  # chainrule's median fit time / scikit-learn's, at most
SCORE_GOAL = -0.01  # chainrule's test score - scikit-learn's, at least

SOLVERS = ("adam", "sgd", "lbfgs")


def digits() -> tuple:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def classify_20k() -> tuple:
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(
        n_samples=25_000, n_features=40, n_informative=20, n_redundant=10, n_classes=5, random_state=0
    )
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=5_000, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def friedman1() -> tuple:
    from sklearn.datasets import make_friedman1
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = make_friedman1(n_samples=5_000, n_features=10, noise=1.0, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    scaler = StandardScaler().fit(X_train)
    mean, std = y_train.mean(), y_train.std()
    return scaler.transform(X_train), scaler.transform(X_test), (y_train - mean) / std, (y_test - mean) / std


# name: (data, "classifier" or "regressor", parameters of every solver, per solver: its own parameters).
# learning_rate, power_t, max_fun, ... stay at their (shared) defaults: constant step, max_fun=15000.
CASES: dict[str, tuple[Callable[[], tuple], str, dict[str, Any], dict[str, dict[str, Any]]]] = {
    "digits": (
        digits,
        "classifier",
        {"hidden_layer_sizes": (64,), "batch_size": 200},
        {
            "adam": {"max_iter": 300, "learning_rate_init": 0.001},
            "sgd": {"max_iter": 300, "learning_rate_init": 0.01, "momentum": 0.9},
            "lbfgs": {"max_iter": 100},
        },
    ),
    "classify-20k": (
        classify_20k,
        "classifier",
        {"hidden_layer_sizes": (64, 32), "batch_size": 200},
        {
            "adam": {"max_iter": 15, "learning_rate_init": 0.001},
            "sgd": {"max_iter": 30, "learning_rate_init": 0.01, "momentum": 0.9},
            "lbfgs": {"max_iter": 40},
        },
    ),
    "friedman1": (
        friedman1,
        "regressor",
        {"hidden_layer_sizes": (64, 32), "batch_size": 200},
        {
            "adam": {"max_iter": 100, "learning_rate_init": 0.001},
            "sgd": {"max_iter": 100, "learning_rate_init": 0.01, "momentum": 0.9},
            "lbfgs": {"max_iter": 100},
        },
    ),
}
COMMON = {"activation": "relu", "alpha": 1e-4, "tol": 0.0, "random_state": 0}


def parameters(case: str, solver: str) -> dict[str, Any]:
    """The one keyword dict both estimators get for this case and solver."""
    _, _, shared, per_solver = CASES[case]
    return {**COMMON, **shared, "solver": solver, **per_solver[solver]}


def error_text(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= 300 else text[:240] + " ... " + text[-50:]


def time_block(make: Callable[[], Any], split: tuple, rounds: int) -> dict[str, Any]:
    """One untimed warm-up fit, then ``rounds`` timed fits in a row; each timed model is scored
    on the test part after its clock stops. An exception from a fit ends the block with its message."""
    from sklearn.exceptions import ConvergenceWarning

    X_train, X_test, y_train, y_test = split
    seconds, scores, n_iter = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            make().fit(X_train, y_train)
            for _ in range(rounds):
                model = make()
                start = time.perf_counter()
                model.fit(X_train, y_train)
                seconds.append(time.perf_counter() - start)
                scores.append(float(model.score(X_test, y_test)))
                n_iter.append(int(model.n_iter_))
        except Exception as exc:  # a parameter or solver the estimator does not take (yet), a failed fit
            return {"error": error_text(exc)}
    return {
        "seconds": seconds,
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "scores": scores,
        "score": statistics.median(scores),
        "n_iter": n_iter,
    }


def run_case(case: str, solver: str, split: tuple, rounds: int) -> dict[str, Any]:
    from sklearn import neural_network

    import chainrule.sklearn

    kind = CASES[case][1]
    name = "MLPClassifier" if kind == "classifier" else "MLPRegressor"
    params = parameters(case, solver)
    theirs, ours = getattr(neural_network, name), getattr(chainrule.sklearn, name)
    row: dict[str, Any] = {"case": case, "solver": solver, "estimator": name, "params": params}
    row["sklearn"] = time_block(lambda: theirs(**params), split, rounds)
    row["chainrule"] = time_block(lambda: ours(**params), split, rounds)
    sk, cr = row["sklearn"], row["chainrule"]
    if "error" not in sk and "error" not in cr:
        row["ratio"] = cr["median_s"] / sk["median_s"]
        row["score_diff"] = cr["score"] - sk["score"]
        row["time_pass"] = row["ratio"] <= TIME_GOAL
        row["score_pass"] = row["score_diff"] >= SCORE_GOAL
    return row


def seconds_text(block: dict[str, Any]) -> str:
    return f"{block['median_s']:.3f} ({block['min_s']:.3f}-{block['max_s']:.3f})"


def score_text(block: dict[str, Any]) -> str:
    low, high = min(block["scores"]), max(block["scores"])
    return f"{block['score']:.4f}" + (f" ({low:.4f}-{high:.4f})" if high > low else "")


def iter_text(block: dict[str, Any]) -> str:
    low, high = min(block["n_iter"]), max(block["n_iter"])
    return str(low) if low == high else f"{low}-{high}"


def print_row(row: dict[str, Any]) -> None:
    sk, cr = row["sklearn"], row["chainrule"]
    head = f"{row['case']:<14}{row['solver']:<7}"
    if "error" in sk:
        print(f"{head}scikit-learn ERROR: {sk['error']}", flush=True)
        return
    sk_cols = f"{seconds_text(sk):>24}{score_text(sk):>10}{iter_text(sk):>7}"
    if "error" in cr:
        print(f"{head}{sk_cols}   chainrule ERROR: {cr['error']}", flush=True)
        return
    verdict = {True: "PASS", False: "FAIL"}
    print(
        f"{head}{sk_cols}{seconds_text(cr):>24}{score_text(cr):>10}{iter_text(cr):>7}"
        f"{row['ratio']:>7.3f} {verdict[row['time_pass']]:<5}{row['score_diff']:>+8.4f} {verdict[row['score_pass']]}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--quick", action="store_true", help="2 timed fits per contender (unless --rounds)")
    parser.add_argument("--rounds", type=int, help="timed fits per contender and row (default 5, --quick 2)")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--solvers", nargs="*", default=list(SOLVERS), choices=list(SOLVERS))
    args = parser.parse_args()
    rounds = args.rounds if args.rounds is not None else (2 if args.quick else 5)
    if rounds < 1:
        parser.error("--rounds must be at least 1")

    import sklearn

    try:
        from threadpoolctl import threadpool_info

        blas = [(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info()]
    except ImportError:
        blas = []
    print(
        f"scikit-learn {sklearn.__version__}, {os.cpu_count()} CPUs, BLAS {blas}; "
        f"{rounds} timed fits per contender after one warm-up, seconds: median (min-max)"
    )
    print(
        f"goals: chainrule's time / scikit-learn's <= {TIME_GOAL}, "
        f"chainrule's test score - scikit-learn's >= {SCORE_GOAL} (accuracy, or R^2 for friedman1)"
    )
    print(
        f"{'case':<14}{'solver':<7}{'scikit-learn s':>24}{'score':>10}{'iters':>7}"
        f"{'chainrule s':>24}{'score':>10}{'iters':>7}{'ratio':>7} {'time':<5}{'diff':>8} score",
        flush=True,
    )
    rows = []
    for case in args.cases:
        split = CASES[case][0]()
        for solver in args.solvers:
            row = run_case(case, solver, split, rounds)
            rows.append(row)
            print_row(row)
    compared = [r for r in rows if "ratio" in r]
    met = sum(r["time_pass"] for r in compared) + sum(r["score_pass"] for r in compared)
    errors = len(rows) - len(compared)
    print(f"goals met: {met} of {2 * len(compared)}" + (f"; {errors} row(s) with an ERROR" if errors else ""))
    if args.json:
        result = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__},
            "sklearn": sklearn.__version__,
            "blas": blas,
            "rounds": rounds,
            "goals": {"max_time_ratio": TIME_GOAL, "min_score_diff": SCORE_GOAL},
            "rows": rows,
        }
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
