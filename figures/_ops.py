"""Array operations shared by several figure scripts (imported as `from _ops import ...`)."""
import numpy as np


def conv_transpose2d(x, k, s, p):
    """Transposed convolution by its definition: every input pixel scatters x*k into the output."""
    ih, iw = x.shape
    kk = k.shape[0]
    full = np.zeros(((ih - 1) * s + kk, (iw - 1) * s + kk))
    for i in range(ih):
        for j in range(iw):
            full[i * s:i * s + kk, j * s:j * s + kk] += x[i, j] * k
    return full[p:full.shape[0] - p, p:full.shape[1] - p]
