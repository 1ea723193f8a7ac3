"""Activation functions shared by several figure scripts (`from _act import sigmoid, ...`)."""
import math

import numpy as np

_erf = np.vectorize(math.erf, otypes=[float])


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def relu(x):
    return np.maximum(x, 0)


def leaky_relu(x, slope=0.1):
    return np.where(x > 0, x, slope * x)


def gelu(x):
    """The exact GELU, x * Phi(x)."""
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def silu(x):
    return x * sigmoid(x)
