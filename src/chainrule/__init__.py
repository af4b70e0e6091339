"""chainrule: backpropagation done right.

Computes the gradient of a feed-forward network's loss with respect to every weight by the chain
rule, in the notation of "Backpropagation explained, Part 4: Calculating the gradient":

    dC0/dw_jk^(l) = dC0/da_j^(l) * g'^(l)(z_j^(l)) * a_k^(l-1)

>>> import chainrule as cr
>>> net = cr.Network([2, 3, 2], activation="sigmoid", bias=False, seed=0)
>>> g = cr.gradients(net, [[0.5, -1.0]], [[0.0, 1.0]])
>>> g.dW[2].shape      # dC/dW^(2), shaped like W^(2): (n_2, n_1)
(2, 3)
"""

from . import arrays as _arrays  # noqa: F401 - registers networks of other array libraries with Network
from . import io as _io  # noqa: F401 - registers saving and loading with Network
from . import render as _render  # noqa: F401 - registers the text, Markdown and LaTeX of an Explanation
from ._memory import release_memory
from .activations import ACTIVATIONS, Activation, get_activation
from .backprop import Gradients, cost, gradients
from .engine.backend import backend, get_backend, set_backend
from .errors import ChainruleError
from .explain import Explanation, explain
from .gradcheck import GradcheckResult, gradcheck
from .layers import LayerList
from .losses import LOSSES, Loss, get_loss
from .network import Network, Trace
from .optim import SGD, Adam, CosineLR, ExponentialLR, StepLR
from .train import Callback, History, StopTraining, TrainingWarning, evaluate, fit

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "SGD",
    "Adam",
    "Callback",
    "CosineLR",
    "ExponentialLR",
    "History",
    "StepLR",
    "StopTraining",
    "TrainingWarning",
    "evaluate",
    "fit",
    "LOSSES",
    "Activation",
    "ChainruleError",
    "Explanation",
    "GradcheckResult",
    "Gradients",
    "LayerList",
    "Loss",
    "Network",
    "Trace",
    "cost",
    "explain",
    "get_activation",
    "get_loss",
    "gradcheck",
    "gradients",
    "backend",
    "get_backend",
    "set_backend",
    "release_memory",
]
