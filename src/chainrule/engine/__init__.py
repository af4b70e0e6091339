"""The engine: chainrule's fast paths for NumPy networks, beside the article's algorithm.

* :mod:`~chainrule.engine.backend` chooses, per network and batch, how a gradient is computed:
  the whole pass compiled by numba (small networks), NumPy's BLAS for the matrix products with
  compiled loops between them (large ones), or NumPy alone; ``chainrule.set_backend`` sets it.
* :mod:`~chainrule.engine.kernels` holds the compiled (numba) kernels; it is imported on first use.
* :mod:`~chainrule.engine.codes` numbers the activations and losses the kernels know.

Every path computes the equations of :mod:`chainrule.article`, which is the reference they are
tested against and which imports nothing from here.
"""
