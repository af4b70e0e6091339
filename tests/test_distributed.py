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
