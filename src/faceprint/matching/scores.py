"""Raw scores between embeddings."""

from __future__ import annotations

import numpy as np


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of every row of ``a`` against every row of ``b`` (rows L2-normalised).

    Args:
        a: ``(n, d)`` float32 unit vectors.
        b: ``(m, d)`` float32 unit vectors.

    Returns:
        ``(n, m)`` float32 in [-1, 1].

    Example:
        >>> import numpy as np
        >>> cosine_matrix(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32)).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    a = np.atleast_2d(np.asarray(a, np.float32))
    b = np.atleast_2d(np.asarray(b, np.float32))
    return np.clip(a @ b.T, -1.0, 1.0)
