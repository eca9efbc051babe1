"""A writer for the crash test: indexes small batches forever, printing each face only
after ``add_faces`` has returned (i.e. after the commit was acknowledged)."""

from __future__ import annotations

import sys

import numpy as np

from faceprint.store import Store
from faceprint.types import Box, NewFace


def vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v)


def main(home: str, first_seed: int) -> None:
    seed = first_seed
    with Store(home) as store:
        print("READY", flush=True)
        while True:
            batch = list(range(seed, seed + 1 + seed % 4))
            seed += len(batch)
            faces = [NewFace(vector(s), Box(0, 0, 1, 1), 90.0, f"img{s}", f"s{s}") for s in batch]
            stored = store.faces.add("crash", faces, model="crash-model")
            print("\n".join(f"ACK {f.face_id} {s}" for f, s in zip(stored, batch)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
