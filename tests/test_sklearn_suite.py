"""scikit-learn's own MLP test module, run against chainrule's estimators.

The module is the one installed with scikit-learn (``sklearn/neural_network/tests/test_mlp.py``),
imported at test time with ``sklearn.neural_network.MLPClassifier`` and ``MLPRegressor`` standing
for chainrule's while it loads: its code is not copied here, and a new scikit-learn brings its new
tests. The tests that cannot pass are listed in ``EXPECTED_FAILURES`` with the reason (each reads a
private attribute of scikit-learn's implementation or its exact message text); they run too, as
strict xfails, so one that starts to pass shows up.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

pytest.importorskip("sklearn")

import sklearn.neural_network  # noqa: E402

import chainrule.sklearn  # noqa: E402

#: test name (without parameters) -> why chainrule's estimators cannot pass it
EXPECTED_FAILURES = {
    "test_gradient": "calls scikit-learn's private _loss_grad_lbfgs with its private activations/deltas lists",
}


def _load_suite():
    path = os.path.join(os.path.dirname(sklearn.neural_network.__file__), "tests", "test_mlp.py")
    if not os.path.exists(path):  # a scikit-learn installed without its tests
        return None
    originals = sklearn.neural_network.MLPClassifier, sklearn.neural_network.MLPRegressor
    sklearn.neural_network.MLPClassifier = chainrule.sklearn.MLPClassifier
    sklearn.neural_network.MLPRegressor = chainrule.sklearn.MLPRegressor
    try:
        spec = importlib.util.spec_from_file_location("_sklearn_test_mlp_on_chainrule", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    finally:
        sklearn.neural_network.MLPClassifier, sklearn.neural_network.MLPRegressor = originals
    return module


_suite = _load_suite()
if _suite is None:
    pytest.skip("this scikit-learn was installed without its tests", allow_module_level=True)


@pytest.fixture
def global_random_seed():
    """scikit-learn's fixture (its conftest), with its default seed."""
    return int(os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED", "42").split("-")[0])


def _adopt(name, function):
    if name in EXPECTED_FAILURES:
        function = pytest.mark.xfail(reason=EXPECTED_FAILURES[name], strict=True)(function)
    return function


for _name, _value in vars(_suite).items():
    if _name.startswith("test_") and callable(_value):
        globals()[_name] = _adopt(_name, _value)


def test_the_suite_runs_on_chainrule():
    """The module really holds chainrule's classes (a failed substitution would test scikit-learn)."""
    assert _suite.MLPClassifier is chainrule.sklearn.MLPClassifier
    assert _suite.MLPRegressor is chainrule.sklearn.MLPRegressor
