"""Weights to and from scikit-learn and PyTorch.

* :func:`from_sklearn`: a fitted scikit-learn ``MLPClassifier`` / ``MLPRegressor`` as a chainrule
  network. scikit-learn stores ``coefs_[i]`` as ``(n_in, n_out)``: the transpose of chainrule's
  ``W[i + 1]``, which is ``(n_out, n_in)`` like the article's ``w_jk`` (to ``j``, from ``k``).
* :func:`to_torch` / :func:`from_torch`: a chainrule network as a PyTorch ``nn.Sequential`` of
  ``Linear`` layers and activations, and back. ``nn.Linear.weight`` is ``(out, in)``, the same
  layout as ``W[l]``, so the arrays are copied as they are.

Neither library is imported until one of these functions is called.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .errors import ChainruleError, shown
from .network import Network, require_network

__all__ = ["SKLEARN_ACTIVATIONS", "from_sklearn", "from_torch", "to_torch"]

#: scikit-learn's activation names -> chainrule's.
SKLEARN_ACTIVATIONS = {
    "identity": "identity",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "softmax": "softmax",
    "exp": "exp",  # the output of MLPRegressor(loss="poisson")
}


def from_sklearn(model: Any) -> Network:
    """A chainrule network with the weights of a fitted scikit-learn MLPClassifier or MLPRegressor.

    ``W[l] = coefs_[l - 1].T`` and ``b[l] = intercepts_[l - 1]``; the hidden activation and the
    output activation (``out_activation_``: softmax, logistic, identity, or exp for
    ``loss="poisson"``) carry over, so ``net.predict(X)`` equals the model's ``predict_proba(X)``
    (for a binary classifier, its second column: scikit-learn gives it one logistic output) or
    ``predict(X)``.
    """
    coefs = getattr(model, "coefs_", None)
    if coefs is None:
        raise ChainruleError(f"{type(model).__name__} is not a fitted scikit-learn MLP (it has no coefs_)")
    try:
        hidden = SKLEARN_ACTIVATIONS[model.activation]
        out = SKLEARN_ACTIVATIONS[model.out_activation_]
    except (AttributeError, KeyError, TypeError) as exc:
        raise ChainruleError(
            f"not a fitted scikit-learn MLP, or an activation chainrule lacks: {shown(str(exc))}"
        ) from None
    try:
        L = len(coefs)
        weights = [np.asarray(c).T for c in coefs]
        biases = list(model.intercepts_)
    except Exception as exc:  # noqa: BLE001 - coefs_ or intercepts_ not lists of arrays
        raise ChainruleError(
            f"{type(model).__name__} is not a fitted scikit-learn MLP (coefs_ and intercepts_ must be lists "
            f"of arrays): {type(exc).__name__}: {shown(str(exc))}"
        ) from None
    return Network.from_weights(
        weights,
        biases,
        activation=[hidden] * (L - 1) + [out],
        dtype=weights[0].dtype if L and weights[0].dtype in (np.float32, np.float64) else np.float64,
    )


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ChainruleError("this needs PyTorch: pip install torch") from None
    return torch


def to_torch(net: Network) -> Any:
    """``nn.Sequential(Linear, activation, Linear, activation, ...)`` with the network's weights,
    in its dtype (float64 or float32). Identity activations are left out."""
    require_network(net)
    torch = _torch()
    nn = torch.nn
    dtype = torch.float64 if net.dtype == np.float64 else torch.float32
    layers: list[Any] = []
    for l in range(1, net.L + 1):
        W = net.W[l]
        lin = nn.Linear(W.shape[1], W.shape[0], bias=net.b is not None, dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.copy()))
            if net.b is not None:
                lin.bias.copy_(torch.from_numpy(net.b[l].copy()))
        layers.append(lin)
        g = net.g[l]
        if isinstance(g, Sigmoid):
            layers.append(nn.Sigmoid())
        elif isinstance(g, Tanh):
            layers.append(nn.Tanh())
        elif isinstance(g, LeakyReLU):
            layers.append(nn.LeakyReLU(g.alpha))
        elif isinstance(g, ReLU):
            layers.append(nn.ReLU())
        elif isinstance(g, Softplus):
            layers.append(nn.Softplus())
        elif isinstance(g, Softmax):
            layers.append(nn.Softmax(dim=1))
        elif not isinstance(g, Identity):
            raise ChainruleError(f"PyTorch has no module for activation {g!r}")
    return nn.Sequential(*layers)


def from_torch(module: Any) -> Network:
    """A chainrule network from a PyTorch ``nn.Sequential`` of ``Linear`` layers, each followed by
    at most one of Sigmoid, Tanh, ReLU, LeakyReLU, Softplus (beta 1), Softmax(dim=1) or Identity."""
    torch = _torch()
    nn = torch.nn
    if not isinstance(module, nn.Sequential):
        raise ChainruleError(f"from_torch takes an nn.Sequential, got {type(module).__name__}")
    weights: list[np.ndarray] = []
    biases: list[np.ndarray | None] = []
    acts: list[Any] = []
    for i, m in enumerate(module):
        if isinstance(m, nn.Linear):
            weights.append(m.weight.detach().cpu().numpy().copy())
            biases.append(None if m.bias is None else m.bias.detach().cpu().numpy().copy())
            acts.append("identity")
            continue
        if not weights or acts[-1] != "identity" or isinstance(m, nn.Identity):
            if isinstance(m, nn.Identity):
                continue
            raise ChainruleError(f"module {i} ({type(m).__name__}) must follow a Linear layer, one activation each")
        if isinstance(m, nn.Sigmoid):
            acts[-1] = "sigmoid"
        elif isinstance(m, nn.Tanh):
            acts[-1] = "tanh"
        elif isinstance(m, nn.ReLU):
            acts[-1] = "relu"
        elif isinstance(m, nn.LeakyReLU):
            acts[-1] = LeakyReLU(m.negative_slope)
        elif isinstance(m, nn.Softplus) and m.beta == 1:
            acts[-1] = "softplus"
        elif isinstance(m, nn.Softmax) and m.dim in (1, -1):
            acts[-1] = "softmax"
        else:
            raise ChainruleError(f"module {i} ({shown(m)}) has no chainrule activation")
    if not weights:
        raise ChainruleError("the nn.Sequential has no Linear layer")
    with_bias = [b is not None for b in biases]
    if any(with_bias) and not all(with_bias):
        raise ChainruleError("either every Linear layer has a bias or none does")
    return Network.from_weights(weights, biases if all(with_bias) else None, activation=acts)
