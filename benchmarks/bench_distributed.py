"""Dask benchmark: samples per second of the full mean gradient with 1 and with 2 workers, on a
dataset larger than one worker's memory limit.

The data (``--rows`` x 100 float64 features and a class label) is generated lazily by dask, chunk
by chunk on the workers, and never held whole: with the default 1,000,000 rows it is 800 MB
against a 400 MiB limit per worker, so it streams through the workers on every pass. The network
is 100-64-2 (relu, softmax, cross_entropy). Each figure is the best of ``--repeats`` passes.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_distributed.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

import dask.array as da
from distributed import Client, LocalCluster

import chainrule as cr
from chainrule import distributed as crd


def data(rows: int, chunk: int) -> tuple[da.Array, da.Array]:
    rng = da.random.default_rng(0)
    X = rng.standard_normal((rows, 100), chunks=(chunk, 100))
    y = (X[:, :10].sum(axis=1) > 0).astype("int64")
    return X, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--memory-limit", default="400MiB")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    net = cr.Network([100, 64, 2], activation="relu", output_activation="softmax", seed=0)
    gigabytes = args.rows * 100 * 8 / 1e9
    print(
        f"{args.rows} rows x 100 float64 features ({gigabytes:.2f} GB), {args.chunk} rows per partition, "
        f"memory limit {args.memory_limit} per worker"
    )
    rows = []
    for workers in (1, 2):
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, memory_limit=args.memory_limit, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            X, y = data(args.rows, args.chunk)
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                g = crd.gradients(net, X, y, loss="cross_entropy", client=client)
                times.append(time.perf_counter() - start)
            best = min(times)
            rows.append({"workers": workers, "seconds": best, "samples_per_second": args.rows / best, "C": g.C})
            print(
                f"{workers} worker{'s' if workers > 1 else ' '}: {best:7.2f} s per pass, "
                f"{args.rows / best:12,.0f} samples/s"
            )
    print(f"speed-up from 1 to 2 workers: {rows[0]['seconds'] / rows[1]['seconds']:.2f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": args.rows, "memory_limit": args.memory_limit, "results": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
