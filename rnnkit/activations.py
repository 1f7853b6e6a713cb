"""Activation functions used by every cell, and their derivatives.

Both are written so that no finite input, however large, makes numpy warn:
under nbgrader any output on stderr (a RuntimeWarning included) scores a
test cell 0, so a learner's correct answer must never print one.
"""

import numpy as np


def sigmoid(z):
    """Logistic function sigma(z) = 1 / (1 + exp(-z)), elementwise.

    Computed as exp(-log(1 + exp(-z))) through ``np.logaddexp``, which never
    overflows: ``1 / (1 + np.exp(-z))`` warns "overflow in exp" for z < -709.

    Inputs:
    - z: array of any shape, float32 or float64.

    Returns:
    - array of z's shape and dtype, values in [0, 1].
    """
    z = np.asarray(z)
    if not np.issubdtype(z.dtype, np.floating):
        z = z.astype(np.float64)
    return np.exp(-np.logaddexp(z.dtype.type(0), -z))


def tanh(z):
    """Hyperbolic tangent, elementwise; values in [-1, 1]. Never warns."""
    return np.tanh(z)


def dsigmoid_from_output(g):
    """Derivative of the sigmoid written with its output g = sigma(z): g (1 - g)."""
    return g * (1 - g)


def dtanh_from_output(a):
    """Derivative of tanh written with its output a = tanh(z): 1 - a^2."""
    return 1 - a * a
