"""The numbers by which the compiled kernels know each activation and loss (compile-time constants
there). Its own module, below both :mod:`~chainrule.engine.backend` (which chooses a path) and
:mod:`~chainrule.engine.kernels` (which compiles them), so neither imports the other for them."""

ACTIVATION_CODES = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3, "leaky_relu": 4, "softplus": 5, "softmax": 6}
LOSS_CODES = {"squared_error": 0, "mse": 1, "cross_entropy": 2, "binary_cross_entropy": 3, "half_mse": 4}
