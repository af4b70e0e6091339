"""Training benchmark: digits (80/20 seeded split), 64-64-10, SGD with batch 32, against
scikit-learn's MLPClassifier with the same architecture, optimizer, batch size and epochs.

Rows:

* sigmoid hidden and output, the article's squared_error (target: >= 96% test accuracy);
* relu hidden, softmax output, cross_entropy (target: >= 97%);

scikit-learn's MLPClassifier always trains with log-loss (softmax or logistic output), so its row
uses its own loss with the same hidden activation; the wall times compare the same number of SGD
steps on the same data. Each time is the median of 3 runs.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_train.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import chainrule as cr
from chainrule.data import Standardizer, load_dataset, train_test_split

EPOCHS, BATCH = 50, 32
CONFIGS = [
    # name, hidden activation, output activation, loss, learning rate, momentum, sklearn activation
    ("sigmoid + squared_error", "sigmoid", "sigmoid", "squared_error", 0.5, 0.0, "logistic"),
    ("relu + softmax + cross_entropy", "relu", "softmax", "cross_entropy", 0.05, 0.9, "relu"),
]


def data():
    X, y = load_dataset("digits")
    X_train, X_test, y_train, y_test = train_test_split(X, y, 0.2, seed=0)
    scaler = Standardizer().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def run_chainrule(cfg, X_train, X_test, y_train, y_test):
    _, act, out, loss, lr, mom, _ = cfg
    net = cr.Network([64, 64, 10], activation=act, output_activation=out, seed=0)
    start = time.perf_counter()
    cr.fit(
        net,
        X_train,
        y_train,
        loss=loss,
        epochs=EPOCHS,
        batch_size=BATCH,
        optimizer=cr.SGD(lr=lr, momentum=mom),
        seed=0,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    return seconds, cr.evaluate(net, X_test, y_test, loss=loss)["accuracy"]


def run_sklearn(cfg, X_train, X_test, y_train, y_test):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    _, _, _, _, lr, mom, sk_act = cfg
    clf = MLPClassifier(
        hidden_layer_sizes=(64,),
        activation=sk_act,
        solver="sgd",
        learning_rate_init=lr,
        momentum=mom,
        nesterovs_momentum=False,
        batch_size=BATCH,
        max_iter=EPOCHS,
        alpha=0.0,
        shuffle=True,
        random_state=0,
        tol=0.0,
        n_iter_no_change=EPOCHS + 1,
        early_stopping=False,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return seconds, clf.score(X_test, y_test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    split = data()
    rows = []
    print(f"digits, 64-64-10, SGD, batch {BATCH}, {EPOCHS} epochs; median of {args.repeats} runs")
    print(f"{'configuration':<32}{'chainrule s':>12}{'acc':>8}{'sklearn s':>11}{'acc':>8}{'time ratio':>12}")
    for cfg in CONFIGS:
        ours = [run_chainrule(cfg, *split) for _ in range(args.repeats)]
        theirs = [run_sklearn(cfg, *split) for _ in range(args.repeats)]
        t_ours, acc_ours = statistics.median(t for t, _ in ours), ours[0][1]
        t_sk, acc_sk = statistics.median(t for t, _ in theirs), theirs[0][1]
        rows.append(
            {
                "config": cfg[0],
                "chainrule_s": t_ours,
                "chainrule_accuracy": acc_ours,
                "sklearn_s": t_sk,
                "sklearn_accuracy": acc_sk,
                "ratio": t_ours / t_sk,
            }
        )
        print(f"{cfg[0]:<32}{t_ours:>12.3f}{acc_ours:>8.4f}{t_sk:>11.3f}{acc_sk:>8.4f}{t_ours / t_sk:>12.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"epochs": EPOCHS, "batch": BATCH, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
