"""Bad input gets a clear error that names the problem: layer, expected and actual."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import ChainruleError


@pytest.fixture
def net():
    return cr.Network([3, 4, 2], activation="sigmoid", seed=0)


def test_error_is_a_value_error():
    assert issubclass(ChainruleError, ValueError)


def test_x_columns(net):
    with pytest.raises(
        ChainruleError,
        match=r"X has 4 columns but layer 0 \(the input layer\) has n_0 = 3 nodes; expected shape \(n_samples, 3\), got \(5, 4\)",
    ):
        cr.gradients(net, np.zeros((5, 4)), np.zeros((5, 2)))


def test_y_columns(net):
    with pytest.raises(
        ChainruleError,
        match=r"Y has 3 columns but the output layer L has n_L = 2 nodes; expected shape \(5, 2\), got \(5, 3\)",
    ):
        cr.gradients(net, np.zeros((5, 3)), np.zeros((5, 3)))


def test_sample_counts_differ(net):
    with pytest.raises(ChainruleError, match=r"X has 5 samples \(rows\) but Y has 4"):
        cr.gradients(net, np.zeros((5, 3)), np.zeros((4, 2)))
    with pytest.raises(ChainruleError, match=r"Y has 4 values but X has 5 samples"):
        cr.gradients(net, np.zeros((5, 3)), np.zeros(4, dtype=int))


def test_empty_batch(net):
    with pytest.raises(ChainruleError, match=r"X has no samples \(an empty batch\)"):
        cr.gradients(net, np.zeros((0, 3)), np.zeros((0, 2)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_data(net, bad):
    X = np.zeros((5, 3))
    X[3, 1] = bad
    with pytest.raises(ChainruleError, match=r"X contains (nan|inf|-inf) \(NaN or inf\) at row 3, column 1"):
        cr.gradients(net, X, np.zeros((5, 2)))
    Y = np.zeros((5, 2))
    Y[2, 0] = bad
    with pytest.raises(ChainruleError, match=r"Y contains .* at row 2, column 0"):
        cr.gradients(net, np.zeros((5, 3)), Y)


def test_non_finite_weights_name_the_layer(net):
    net.W[2][1, 3] = np.nan
    with pytest.raises(ChainruleError, match=r"W\[2\] \(layer 2\) contains nan \(NaN or inf\) at j 1, k 3"):
        cr.gradients(net, np.zeros((5, 3)), np.zeros((5, 2)))
    with pytest.raises(ChainruleError, match=r"W\[2\] \(layer 2\)"):
        net.predict(np.zeros((1, 3)))


def test_non_finite_bias_names_the_layer(net):
    net.b[1][2] = np.inf
    with pytest.raises(ChainruleError, match=r"b\[1\] \(layer 1\) contains inf .* at j 2"):
        net.forward(np.zeros((1, 3)))


def test_huge_but_finite_values_are_accepted(net):
    # their sum overflows, yet each value is finite: no false alarm
    X = np.full((4, 3), 1e308)
    assert np.isfinite(cr.gradients(net, X, np.zeros((4, 2))).C)


def test_unknown_activation_lists_valid_names():
    with pytest.raises(
        ChainruleError,
        match=r"unknown activation 'sigmod'; valid names: exp, identity, leaky_relu, relu, sigmoid, softmax, softplus, tanh\. Did you mean 'sigmoid'\?",
    ):
        cr.Network([2, 2], activation="sigmod")


def test_unknown_loss_lists_valid_names(net):
    with pytest.raises(
        ChainruleError,
        match=r"unknown loss 'squared'; valid names: binary_cross_entropy, cross_entropy, half_mse, mse, poisson, squared_error",
    ):
        cr.gradients(net, np.zeros((1, 3)), np.zeros((1, 2)), loss="squared")


def test_labels_out_of_range(net):
    with pytest.raises(
        ChainruleError,
        match=r"Y holds class label 2 at row 1, out of range: the output layer has n_L = 2 nodes, so labels must be 0..1",
    ):
        cr.gradients(net, np.zeros((3, 3)), np.array([0, 2, 1]))
    with pytest.raises(ChainruleError, match=r"class label -1 at row 0"):
        cr.gradients(net, np.zeros((3, 3)), np.array([-1, 0, 1]))


def test_fractional_labels(net):
    with pytest.raises(ChainruleError, match=r"holds 0.5 at row 1, not a whole number"):
        cr.gradients(net, np.zeros((3, 3)), np.array([0.0, 0.5, 1.0]))


def test_targets_out_of_range_for_probability_losses():
    net = cr.Network([3, 2], activation="softmax", seed=0)
    with pytest.raises(ChainruleError, match=r"Y holds 1.5 at row 0, column 1: this loss needs targets in \[0, 1\]"):
        cr.gradients(net, np.zeros((1, 3)), [[0.0, 1.5]], loss="cross_entropy")
    net = cr.Network([3, 1], activation="sigmoid", seed=0)
    with pytest.raises(ChainruleError, match=r"Y holds -1.0 at row 1, column 0: this loss needs targets in \[0, 1\]"):
        cr.gradients(net, np.zeros((2, 3)), [1.0, -1.0], loss="binary_cross_entropy")


def test_softmax_with_a_loss_it_does_not_fit():
    net = cr.Network([3, 4], activation="tanh", output_activation="softmax", seed=0)
    with pytest.raises(
        ChainruleError,
        match=r"loss 'binary_cross_entropy' does not fit a softmax output layer.* for softmax outputs use cross_entropy",
    ):
        cr.gradients(net, np.zeros((1, 3)), [1], loss="binary_cross_entropy")
    net = cr.Network([3, 4], activation="sigmoid", seed=0)
    with pytest.raises(
        ChainruleError,
        match=r"loss 'cross_entropy' does not fit a sigmoid output layer.* for sigmoid outputs use binary_cross_entropy",
    ):
        cr.gradients(net, np.zeros((1, 3)), [1], loss="cross_entropy")


def test_softmax_on_a_single_node():
    with pytest.raises(ChainruleError, match=r"softmax on layer 2 with a single node is the constant 1"):
        cr.Network([3, 4, 1], activation="softmax")


@pytest.mark.parametrize(
    "X,match",
    [
        (np.array([["a", "b", "c"]]), r"X must be numeric \(bool, int or float\); got dtype <U1 \(strings\)"),
        (np.array([[1 + 1j, 0, 0]]), r"X must be numeric .*complex numbers"),
        (
            np.array([[1, None, 2]], dtype=object),
            r"X must be numeric; it holds None \(NoneType\) at \[0, 1\], not a number",
        ),
        ([[1, 2], [3]], r"X could not be read as a numeric array"),
    ],
)
def test_non_numeric_arrays(net, X, match):
    with pytest.raises(ChainruleError, match=match):
        cr.gradients(net, X, np.zeros((1, 2)))


def test_non_numeric_targets(net):
    with pytest.raises(ChainruleError, match=r"Y must be numeric .*strings"):
        cr.gradients(net, np.zeros((2, 3)), np.array(["cat", "dog"]))


def test_sample_weight_errors(net):
    X, Y = np.zeros((3, 3)), np.zeros((3, 2))
    with pytest.raises(ChainruleError, match=r"sample_weight must have shape \(3,\)"):
        cr.gradients(net, X, Y, sample_weight=[1, 1])
    with pytest.raises(ChainruleError, match=r"sample_weight holds -1.0 at sample 1; weights must be >= 0"):
        cr.gradients(net, X, Y, sample_weight=[1, -1, 1])
    with pytest.raises(ChainruleError, match=r"sample_weight sums to zero"):
        cr.gradients(net, X, Y, sample_weight=[0, 0, 0])
    with pytest.raises(ChainruleError, match=r"sample_weight contains nan"):
        cr.gradients(net, X, Y, sample_weight=[1, np.nan, 1])
    with pytest.raises(ChainruleError, match=r"do not combine"):
        cr.gradients(net, X, Y, sample_weight=[1, 1, 1], per_sample=True)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"sizes": [3]}, r"needs at least two layers"),
        ({"sizes": [3, 0, 2]}, r"layer 1 must have a whole number >= 1 of nodes; sizes\[1\] = 0"),
        ({"sizes": [3, 2.5]}, r"sizes\[1\] = 2.5"),
        ({"sizes": [3, 4, 2], "activation": ["tanh"]}, r"L = 2 layers with weights but 1 activations were given"),
        ({"sizes": [3, 2], "dtype": "int32"}, r"dtype must be float32 or float64, got int32"),
        ({"sizes": [3, 2], "activation": 3}, r"an activation is a name or an Activation instance, got int"),
        (
            {"sizes": [3, 2], "activation": {"name": "leaky_relu", "beta": 1}},
            r"bad parameters for activation 'leaky_relu'",
        ),
        ({"sizes": [3, 2], "activation": {"name": "leaky_relu", "alpha": -1}}, r"alpha must be a finite number >= 0"),
    ],
)
def test_network_construction_errors(kwargs, match):
    sizes = kwargs.pop("sizes")
    with pytest.raises(ChainruleError, match=match):
        cr.Network(sizes, **kwargs)


def test_from_weights_errors():
    with pytest.raises(
        ChainruleError, match=r"W\[2\] has shape \(2, 4\) but W\[1\] has \(3, 2\): W\[2\] needs n_1 = 3 columns"
    ):
        cr.Network.from_weights([np.zeros((3, 2)), np.zeros((2, 4))])
    with pytest.raises(ChainruleError, match=r"W\[1\] must be 2-D"):
        cr.Network.from_weights([np.zeros(3)])
    with pytest.raises(ChainruleError, match=r"b\[2\] must have shape \(2,\), one per node of layer 2; got \(3,\)"):
        cr.Network.from_weights([np.zeros((3, 2)), np.zeros((2, 3))], [np.zeros(3), np.zeros(3)])
    with pytest.raises(ChainruleError, match=r"biases must list one array per layer 1..2; got 1"):
        cr.Network.from_weights([np.zeros((3, 2)), np.zeros((2, 3))], [np.zeros(3)])
    with pytest.raises(ChainruleError, match=r"W\[1\] \(layer 1\) contains inf"):
        cr.Network.from_weights([np.full((3, 2), np.inf)])
    with pytest.raises(ChainruleError, match=r"weights must be a list"):
        cr.Network.from_weights([])


def test_assigning_weights_checks_shape(net):
    with pytest.raises(ChainruleError, match=r"W\[1\] must keep its shape \(4, 3\); got \(3, 4\)"):
        net.W[1] = np.zeros((3, 4))


def test_layer_numbers_out_of_range(net):
    with pytest.raises(
        IndexError,
        match=r"W has no layer 0: its layers are 1..2 \(layer numbers follow the article: input layer 0, output layer L = 2\)",
    ):
        net.W[0]
    with pytest.raises(IndexError, match=r"a has no layer 3: its layers are 0..2"):
        net.forward(np.zeros((1, 3))).a[3]
    with pytest.raises(TypeError, match=r"indexed by a layer number"):
        net.W["1"]


def test_net_must_be_a_network():
    with pytest.raises(ChainruleError, match=r"net must be a chainrule Network, got list"):
        cr.gradients([np.zeros((2, 2))], np.zeros((1, 2)), np.zeros((1, 2)))


def test_gradcheck_argument_errors(net):
    with pytest.raises(ChainruleError, match=r"max_checks must be >= 1 or None"):
        cr.gradcheck(net, np.zeros((1, 3)), np.zeros((1, 2)), max_checks=0)
    with pytest.raises(ChainruleError, match=r"eps must be a finite number > 0 and <= 1; got 0"):
        cr.gradcheck(net, np.zeros((1, 3)), np.zeros((1, 2)), eps=0)
