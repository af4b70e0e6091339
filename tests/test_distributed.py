"""The mean gradient and training on a two-worker Dask LocalCluster."""

import os
import threading
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.filterwarnings("ignore:Port .* is already in use")  # dashboards of parallel clusters

import chainrule as cr  # noqa: E402
from chainrule import distributed as crd  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _problem(n=103, seed=0):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n, 5)), rng.integers(0, 3, size=n)
    net = cr.Network([5, 7, 3], activation="tanh", output_activation="softmax", seed=seed)
    net.b[1] = rng.normal(size=7)
    return net, X, y


@pytest.mark.parametrize("chunks", [103, 10, 1, (50, 3, 50), (1, 101, 1)])
def test_gradient_equals_in_memory_for_any_partitioning(client, chunks):
    net, X, y = _problem()
    ref = cr.gradients(net, X, y, loss="cross_entropy")
    g = crd.gradients(
        net, da.from_array(X, chunks=(chunks, 5)), da.from_array(y, chunks=chunks), loss="cross_entropy", client=client
    )
    assert g.n == 103
    for l in (1, 2):
        np.testing.assert_allclose(g.dW[l], ref.dW[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(g.db[l], ref.db[l], rtol=1e-12, atol=1e-15)
    assert g.C == pytest.approx(ref.C, rel=1e-13)


def test_dask_dataframe_with_named_targets(client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    Y = X @ rng.normal(size=(3, 2))
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "t1": Y[:, 0], "t2": Y[:, 1]})
    ddf = dd.from_pandas(frame, npartitions=3)
    net = cr.Network([3, 4, 2], activation="tanh", output_activation="identity", seed=0)
    g = crd.gradients(net, ddf, target=["t1", "t2"], client=client)
    ref = cr.gradients(net, X, Y)
    for l in (1, 2):
        np.testing.assert_allclose(g.dW[l], ref.dW[l], rtol=1e-12)
    with pytest.raises(cr.ChainruleError, match=r"the DataFrame has no column 'y'; its columns: a, b, c, t1, t2"):
        crd.gradients(net, ddf, target="y", client=client)


def test_full_batch_training_reaches_the_in_memory_weights(client):
    net, X, y = _problem()
    mem, dist = net.copy(), net.copy()
    h_mem = cr.fit(
        mem, X, y, loss="cross_entropy", epochs=8, batch_size=None, optimizer=cr.SGD(lr=0.5, momentum=0.9), verbose=0
    )
    h_dist = crd.fit(
        dist,
        da.from_array(X, chunks=(17, 5)),
        da.from_array(y, chunks=17),
        loss="cross_entropy",
        epochs=8,
        optimizer=cr.SGD(lr=0.5, momentum=0.9),
        verbose=0,
        client=client,
    )
    for l in (1, 2):
        np.testing.assert_allclose(dist.W[l], mem.W[l], rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(h_dist.loss, h_mem.loss, rtol=1e-12)
    assert h_dist.classification and len(h_dist.accuracy) == 8


def test_minibatches_drawn_across_partitions_match_in_memory_sgd(client):
    net, X, y = _problem(60)
    mem, dist = net.copy(), net.copy()
    cr.fit(mem, X, y, loss="cross_entropy", epochs=2, batch_size=16, optimizer=cr.Adam(lr=0.01), seed=4, verbose=0)
    h = crd.fit(
        dist,
        da.from_array(X, chunks=(7, 5)),
        da.from_array(y, chunks=7),
        loss="cross_entropy",
        epochs=2,
        batch_size=16,
        optimizer=cr.Adam(lr=0.01),
        seed=4,
        verbose=0,
        client=client,
    )
    for l in (1, 2):
        np.testing.assert_allclose(dist.W[l], mem.W[l], rtol=1e-10, atol=1e-13)
    assert h.epochs == 2


def test_column_mismatch_is_the_in_memory_error(client):
    net, X, y = _problem()
    with pytest.raises(cr.ChainruleError, match=r"X has 4 columns but layer 0 \(the input layer\) has n_0 = 5 nodes"):
        crd.gradients(net, da.from_array(X[:, :4], chunks=(10, 4)), da.from_array(y, chunks=10), client=client)
    with pytest.raises(cr.ChainruleError, match=r"Y has 2 columns but the output layer L has n_L = 3 nodes"):
        crd.gradients(net, da.from_array(X, chunks=(10, 5)), da.zeros((103, 2), chunks=(10, 2)), client=client)
    with pytest.raises(cr.ChainruleError, match=r"X has 103 samples \(rows\) but Y has 100"):
        crd.gradients(net, da.from_array(X, chunks=(10, 5)), da.from_array(y[:100], chunks=10), client=client)


def test_nan_in_a_partition_is_reported(client):
    net, X, y = _problem()
    X = X.copy()
    X[57, 2] = np.nan
    with pytest.raises(cr.ChainruleError, match=r"X contains nan"):
        crd.gradients(
            net, da.from_array(X, chunks=(10, 5)), da.from_array(y, chunks=10), loss="cross_entropy", client=client
        )


def test_a_worker_lost_mid_training_changes_nothing():
    net, X, y = _problem(200)
    expected = net.copy()
    cr.fit(expected, X, y, loss="cross_entropy", epochs=60, batch_size=None, optimizer=cr.SGD(lr=0.3), verbose=0)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        Xd = da.from_array(X, chunks=(10, 5)).persist()
        yd = da.from_array(y, chunks=10).persist()
        trained = net.copy()
        done = threading.Event()

        def train():
            crd.fit(
                trained, Xd, yd, loss="cross_entropy", epochs=60, optimizer=cr.SGD(lr=0.3), verbose=0, client=client
            )
            done.set()

        worker = threading.Thread(target=train)
        worker.start()
        time.sleep(0.3)
        assert not done.is_set(), "training ended before the worker was killed: the test would prove nothing"
        victim = list(client.scheduler_info()["workers"])[0]
        client.run(os._exit, 1, workers=[victim], on_error="ignore")  # the worker process dies with its partitions
        worker.join(timeout=120)
        assert done.is_set()
        for l in (1, 2):
            np.testing.assert_allclose(trained.W[l], expected.W[l], rtol=1e-10, atol=1e-13)
    finally:
        client.close()
        cluster.close()


def test_without_a_client_a_local_cluster_is_started():
    net, X, y = _problem(30)
    try:
        g = crd.gradients(net, da.from_array(X, chunks=(8, 5)), da.from_array(y, chunks=8), loss="cross_entropy")
        assert crd.get_client() is crd.get_client()  # one LocalCluster per process
        assert len(crd.get_client().scheduler_info()["workers"]) >= 1
    finally:
        crd._close_local()
    np.testing.assert_allclose(g.dW[1], cr.gradients(net, X, y, loss="cross_entropy").dW[1], rtol=1e-12)


# ---------------------------------------------------------------- faults: as in memory, and rows of the whole array
def _regression(n=48, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    Y = X @ rng.normal(size=(3, 1)) * 100
    return cr.Network([3, 6, 1], activation="relu", output_activation="identity", seed=seed), X, Y


@pytest.mark.parametrize(
    "optimizer,batch_size",
    [(lambda: cr.SGD(lr=1e200), None), (lambda: cr.Adam(lr=1e300), 16), (lambda: cr.SGD(lr=1e308), None)],
)
def test_divergence_keeps_the_last_finite_weights_like_in_memory(client, optimizer, batch_size):
    net, X, Y = _regression()
    mem, dist = net.copy(), net.copy()
    h_mem = cr.fit(mem, X, Y, epochs=6, batch_size=batch_size or 48, optimizer=optimizer(), shuffle=False, verbose=0)
    h = crd.fit(
        dist,
        da.from_array(X, chunks=(10, 3)),
        da.from_array(Y, chunks=(10, 1)),
        epochs=6,
        batch_size=batch_size,
        optimizer=optimizer(),
        shuffle=False,
        verbose=0,
        client=client,
    )
    assert h_mem.status == h.status == "diverged" and h.epochs == h_mem.epochs
    assert h.stopped.split(";")[0] == h_mem.stopped.split(";")[0] and "smaller learning rate" in h.stopped
    assert np.isfinite(dist._flat).all()
    np.testing.assert_allclose(dist._flat, mem._flat, rtol=1e-10)


def test_ctrl_c_inside_distributed_fit_keeps_whole_steps(client):
    import signal

    net, X, y = _problem(60)
    seen = {}

    class Stop(cr.Callback):
        def on_batch_end(self, batch, logs):
            seen[batch] = net._flat.copy()
            if batch == 3:
                raise KeyboardInterrupt

    old = signal.getsignal(signal.SIGINT)
    h = crd.fit(
        net,
        da.from_array(X, chunks=(20, 5)),
        da.from_array(y, chunks=20),
        loss="cross_entropy",
        epochs=3,
        batch_size=30,
        callbacks=[Stop()],
        verbose=0,
        client=client,
    )
    assert h.status == "interrupted" and h.stopped.startswith("interrupted (Ctrl-C) at epoch 2, batch 1")
    assert "the weights after epoch 2, batch 1 are kept" in h.stopped and h.epochs == 1
    np.testing.assert_array_equal(net._flat, seen[3])
    assert signal.getsignal(signal.SIGINT) is old


@pytest.mark.parametrize("batch_size", [None, 16])
def test_errors_in_a_partition_name_the_row_of_the_whole_array(client, batch_size):
    net, X, y = _problem(103)
    X, y = X.copy(), y.copy()
    X[57, 2] = np.nan
    args = (da.from_array(X, chunks=(10, 5)), da.from_array(y, chunks=10))
    with pytest.raises(cr.ChainruleError, match=r"X contains nan \(NaN or inf\) at row 57, column 2"):
        crd.fit(net, *args, loss="cross_entropy", epochs=1, batch_size=batch_size, verbose=0, client=client)
    X[57, 2] = 0.0
    y[83] = 7
    args = (da.from_array(X, chunks=(10, 5)), da.from_array(y, chunks=10))
    with pytest.raises(cr.ChainruleError, match=r"class label 7 at row 83, out of range"):
        crd.fit(net, *args, loss="cross_entropy", epochs=1, batch_size=batch_size, verbose=0, client=client)


def test_a_nan_at_row_5000_is_reported_at_row_5000(client):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, 5))
    X[5000, 1] = np.inf
    net = cr.Network([5, 3], seed=0)
    with pytest.raises(cr.ChainruleError, match=r"X contains inf \(NaN or inf\) at row 5000, column 1"):
        crd.gradients(net, da.from_array(X, chunks=(1000, 5)), da.zeros((6000, 3), chunks=(1000, 3)), client=client)


BAD_DIST_ARGS = [
    ("epochs", None),
    ("epochs", 0),
    ("batch_size", "big"),
    ("batch_size", 0),
    ("optimizer", 5),
    ("shuffle", "yes"),
    ("seed", "abc"),
    ("callbacks", 5),
    ("callbacks", [object()]),
    ("verbose", "x"),
    ("client", "tcp://nowhere"),
    ("target", 5),
    ("target", "y"),  # with arrays, not a DataFrame
    ("loss", 5),
]


@pytest.mark.parametrize("name,value", BAD_DIST_ARGS, ids=[f"{n}={v!r}" for n, v in BAD_DIST_ARGS])
def test_a_bad_distributed_argument_is_a_clear_error_naming_it(client, name, value):
    net, X, y = _problem(20)
    before = net._flat.copy()
    kwargs = {"loss": "cross_entropy", "verbose": 0, "client": client, name: value}
    with pytest.raises(cr.ChainruleError, match=name) as info:
        crd.fit(net, da.from_array(X, chunks=(10, 5)), da.from_array(y, chunks=10), **kwargs)
    assert len(str(info.value)) < 400 and np.array_equal(net._flat, before)


def test_gradients_and_get_client_check_their_arguments(client):
    net, X, y = _problem(20)
    Xd = da.from_array(X, chunks=(10, 5))
    with pytest.raises(
        cr.ChainruleError, match=r"client must be a distributed.Client or None \(a local cluster\); got 5 \(int\)"
    ):
        crd.get_client(5)
    with pytest.raises(cr.ChainruleError, match=r"Y is missing"):
        crd.gradients(net, Xd, client=client)
    with pytest.raises(cr.ChainruleError, match=r"X must be numeric"):
        crd.gradients(net, da.from_array(np.array([["a"] * 5] * 4)), da.zeros(4), client=client)
    with pytest.raises(cr.ChainruleError, match=r"target must be a column name"):
        crd.gradients(net, Xd, da.from_array(y, chunks=10), target=[1], client=client)
