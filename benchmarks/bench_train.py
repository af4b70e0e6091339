"""Training benchmark: digits (80/20 seeded split), 64-64-10, SGD with batch 32, against
scikit-learn's MLPClassifier with the same architecture, optimizer, batch size and epochs.

Rows:

* sigmoid hidden and output, the article's squared_error (target: >= 96% test accuracy);
* relu hidden, softmax output, cross_entropy (target: >= 97%);

scikit-learn's MLPClassifier always trains with log-loss (softmax or logistic output), so its row
uses its own loss with the same hidden activation; PyTorch (when installed) trains the same network,
loss, optimizer, batch size and epochs in an eager loop. The wall times compare the same number of
SGD steps on the same data. Run ``r`` of each uses seed ``r`` (initial weights and batch order),
so each time is the median over 5 seeds and each accuracy the mean over the same 5 seeds (one
test sample is 0.28%: a single seed cannot tell two implementations apart). The peak memory that Python's
allocator sees (tracemalloc: NumPy's arrays included) is reported for chainrule's training and
for per-sample gradients of the mnist-like network.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_train.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import numpy as np

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


def run_chainrule(cfg, X_train, X_test, y_train, y_test, seed=0):
    _, act, out, loss, lr, mom, _ = cfg
    net = cr.Network([64, 64, 10], activation=act, output_activation=out, seed=seed)
    start = time.perf_counter()
    cr.fit(
        net,
        X_train,
        y_train,
        loss=loss,
        epochs=EPOCHS,
        batch_size=BATCH,
        optimizer=cr.SGD(lr=lr, momentum=mom),
        seed=seed,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    return seconds, cr.evaluate(net, X_test, y_test, loss=loss)["accuracy"]


def run_sklearn(cfg, X_train, X_test, y_train, y_test, seed=0):
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
        random_state=seed,
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


def run_torch(cfg, X_train, X_test, y_train, y_test, seed=0):
    import torch

    torch.set_num_threads(2)
    _, act, out, loss, lr, mom, _ = cfg
    torch.manual_seed(seed)
    hidden = {"sigmoid": torch.nn.Sigmoid(), "relu": torch.nn.ReLU()}[act]
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), hidden, torch.nn.Linear(64, 10)).double()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=mom)
    Xt, yt = torch.tensor(X_train), torch.tensor(y_train)
    Yt = torch.nn.functional.one_hot(yt, 10).double()
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    for _ in range(EPOCHS):
        order = torch.randperm(len(Xt), generator=gen)
        for i in range(0, len(Xt), BATCH):
            idx = order[i : i + BATCH]
            opt.zero_grad()
            z = model(Xt[idx])
            if loss == "cross_entropy":
                C = torch.nn.functional.cross_entropy(z, yt[idx])
            else:
                C = ((torch.sigmoid(z) - Yt[idx]) ** 2).sum(dim=1).mean()
            C.backward()
            opt.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        acc = (model(torch.tensor(X_test)).argmax(dim=1).numpy() == y_test).mean()
    return seconds, float(acc)


def peak_memory(split) -> dict[str, float]:
    """Peak bytes traced by tracemalloc (NumPy registers its arrays with it), in MB."""
    import tracemalloc

    X_train, _, y_train, _ = split
    out = {}
    tracemalloc.start()
    net = cr.Network([64, 64, 10], activation="relu", output_activation="softmax", seed=0)
    cr.fit(net, X_train, y_train, loss="cross_entropy", epochs=5, batch_size=BATCH, verbose=0)
    out["training (64-64-10, batch 32)"] = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.reset_peak()
    rng = np.random.default_rng(0)
    big = cr.Network([784, 128, 64, 10], activation="sigmoid", dtype="float32", seed=0)
    X, Y = rng.normal(size=(256, 784)).astype(np.float32), rng.uniform(size=(256, 10)).astype(np.float32)
    base = tracemalloc.get_traced_memory()[0]
    g = cr.gradients(big, X, Y, per_sample=True)
    result = sum(d.nbytes for d in g.dW) + sum(d.nbytes for d in g.db)
    out["per-sample mnist-like f32 (peak)"] = (tracemalloc.get_traced_memory()[1] - base) / 1e6
    out["per-sample mnist-like f32 (the result itself)"] = result / 1e6
    tracemalloc.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--repeats", type=int, default=5, help="runs (seeds 0, 1, ...) per row")
    args = parser.parse_args()
    split = data()
    rows = []
    print(
        f"digits, 64-64-10, SGD, batch {BATCH}, {EPOCHS} epochs; "
        f"seeds 0..{args.repeats - 1}: median time, mean accuracy"
    )
    try:
        import torch  # noqa: F401

        peers = {"sklearn": run_sklearn, "pytorch": run_torch}
    except ImportError:
        peers = {"sklearn": run_sklearn}
    print(f"{'configuration':<32}{'peer':<9}{'chainrule s':>12}{'acc':>8}{'peer s':>9}{'acc':>8}{'time ratio':>12}")
    for cfg in CONFIGS:
        ours = [run_chainrule(cfg, *split, seed=r) for r in range(args.repeats)]
        t_ours, acc_ours = statistics.median(t for t, _ in ours), statistics.mean(a for _, a in ours)
        for peer, run in peers.items():
            theirs = [run(cfg, *split, seed=r) for r in range(args.repeats)]
            t_p, acc_p = statistics.median(t for t, _ in theirs), statistics.mean(a for _, a in theirs)
            rows.append(
                {
                    "config": cfg[0],
                    "peer": peer,
                    "chainrule_s": t_ours,
                    "chainrule_accuracy": acc_ours,
                    "peer_s": t_p,
                    "peer_accuracy": acc_p,
                    "ratio": t_ours / t_p,
                }
            )
            print(f"{cfg[0]:<32}{peer:<9}{t_ours:>12.3f}{acc_ours:>8.4f}{t_p:>9.3f}{acc_p:>8.4f}{t_ours / t_p:>12.2f}")
    memory = peak_memory(split)
    for what, mb in memory.items():
        print(f"peak memory, {what}: {mb:.1f} MB")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"epochs": EPOCHS, "batch": BATCH, "rows": rows, "peak_memory_mb": memory}, fh, indent=2)


if __name__ == "__main__":
    main()
