"""Face embedders: SFace (onnxruntime), dlib's ResNet, and their fusion.

Each embedder turns the faces of one image into L2-normalised vectors and names its
*contract* (model, weights, preprocessing, rewrite version): vectors from different
contracts are not comparable, and stores refuse to mix them.
"""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np
from onnxruntime import InferenceSession

from faceprint.analysis.align import align_face
from faceprint.models import card, verified_path
from faceprint.models.cache import rewritten
from faceprint.models.onnx_graph import REWRITE_VERSION, optimise
from faceprint.models.sessions import onnx_session
from faceprint.types import Faces


class Embedder(Protocol):
    name: str
    contract: str
    dim: int

    def embed(self, image: np.ndarray, faces: Faces, crops: np.ndarray | None = None) -> np.ndarray:
        """``(len(faces), dim)`` float32 unit vectors for the faces of ``image``.

        ``crops`` are the faces already aligned to the 112 px template, when the
        caller has them (embedders that need other crops ignore them).
        """
        ...


def align_all(image: np.ndarray, faces: Faces) -> np.ndarray:
    """``(n, 112, 112, 3)`` aligned crops of every face."""
    if len(faces) == 0:
        return np.zeros((0, 112, 112, 3), np.uint8)
    return np.stack([align_face(image, lm) for lm in faces.landmarks])


def _normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(norm, 1e-12)


class SFaceEmbedder:
    """SFace (MobileFaceNet trained with the SFace loss), 128-d, on the 112 px crop.

    Args:
        flip: also embed the mirrored crop and average the two vectors. Costs twice
            the time; reduces the effect of asymmetric lighting and pose.
    """

    def __init__(self, *, flip: bool = False) -> None:
        self.card = card("sface.2021dec")
        self.flip = flip
        self.name = "sface.2021dec+flip" if flip else "sface.2021dec"
        self.contract = f"{self.name}/{self.card.sha256[:12]}/{self.card.preprocessing}/{REWRITE_VERSION}"
        self.dim = 128
        self._model = rewritten(self.card, optimise, REWRITE_VERSION)
        # One session per thread: threads sharing a session contend inside it (its
        # memory arena); separate sessions measured about 20% faster on 2 cores.
        self._local = threading.local()
        self._input = self._session().get_inputs()[0].name

    def _session(self) -> InferenceSession:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = onnx_session(self._model)
        return session

    def embed_crops(self, crops: np.ndarray) -> np.ndarray:
        """Embed aligned ``(n, 112, 112, 3)`` uint8 RGB crops."""
        if len(crops) == 0:
            return np.zeros((0, self.dim), np.float32)
        out = []
        for crop in crops:
            batch = crop[None] if not self.flip else np.stack([crop, crop[:, ::-1]])
            # SFace normalises inside the graph: it takes raw 0-255 RGB, NCHW.
            x = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)
            vecs = self._session().run(None, {self._input: x})[0]
            vecs = _normalise(vecs).sum(axis=0)
            out.append(vecs)
        return _normalise(np.stack(out))

    def embed(self, image: np.ndarray, faces: Faces, crops: np.ndarray | None = None) -> np.ndarray:
        if crops is None:
            crops = align_all(image, faces)
        return self.embed_crops(crops)


class DlibEmbedder:
    """dlib's ResNet-29 (the model face_recognition uses), 128-d, on dlib's 150 px chip.

    dlib's chips are aligned with its own 5-point predictor, run inside the YuNet box
    reshaped to the square, tighter box dlib's predictor was trained on.
    """

    name = "dlib.resnet_v1"

    def __init__(self) -> None:
        import dlib  # imported here: dlib is only needed when this embedder is chosen

        self._dlib = dlib
        self.card = card("dlib.resnet_v1")
        shape_card = card("dlib.shape5")
        self.contract = f"{self.name}/{self.card.sha256[:12]}/{self.card.preprocessing}"
        self.dim = 128
        self._net = dlib.face_recognition_model_v1(str(verified_path(self.card)))
        self._shape = dlib.shape_predictor(str(verified_path(shape_card)))
        # dlib's Python objects are not documented as thread-safe; one call at a time.
        self._lock = threading.Lock()

    def _rect(self, landmarks: np.ndarray) -> object:
        eyes = landmarks[:2].mean(axis=0)
        mouth = landmarks[3:].mean(axis=0)
        centre = (eyes + mouth) / 2.0
        side = 2.3 * float(np.linalg.norm(mouth - eyes)) + 1.0
        x1, y1 = centre - side / 2.0
        return self._dlib.rectangle(int(round(x1)), int(round(y1)), int(round(x1 + side)), int(round(y1 + side)))

    def embed(self, image: np.ndarray, faces: Faces, crops: np.ndarray | None = None) -> np.ndarray:
        if len(faces) == 0:
            return np.zeros((0, self.dim), np.float32)
        out = []
        with self._lock:
            for lm in faces.landmarks:
                shape = self._shape(image, self._rect(lm))
                chip = self._dlib.get_face_chip(image, shape, size=150, padding=0.25)
                out.append(np.asarray(self._net.compute_face_descriptor(chip), dtype=np.float32))
        return _normalise(np.stack(out))


# Fusion weights: the inverse of each model's impostor-score standard deviation
# (z-score fusion), relative to SFace. Measured on all cross-identity LFW pairs:
# SFace 0.0878, dlib 0.0348 (the `impostor_std` in each calibration table).
# With vectors scaled by sqrt(weight) and concatenated, the cosine of two fused
# vectors is the weighted mean of the two models' cosines, so the fused score stays
# a plain cosine that a vector index can search.
FUSION_WEIGHTS = {"sface": 1.0, "dlib": 2.525}


class FusedEmbedder:
    """SFace (flip-averaged) and dlib's ResNet, concatenated into one 256-d vector."""

    name = "fusion.sface-flip+dlib"

    def __init__(self) -> None:
        self._sface = SFaceEmbedder(flip=True)
        self._dlib = DlibEmbedder()
        self.dim = self._sface.dim + self._dlib.dim
        w = FUSION_WEIGHTS
        self._scale = (np.sqrt(w["sface"]), np.sqrt(w["dlib"]))
        self.contract = f"{self.name}/{self._sface.contract}+{self._dlib.contract}/w{w['sface']:.3f}:{w['dlib']:.3f}"

    def embed(self, image: np.ndarray, faces: Faces, crops: np.ndarray | None = None) -> np.ndarray:
        a = self._sface.embed(image, faces, crops) * self._scale[0]
        b = self._dlib.embed(image, faces) * self._scale[1]
        return _normalise(np.concatenate([a, b], axis=1))


EMBEDDERS = {
    "sface.2021dec": lambda: SFaceEmbedder(flip=False),
    "sface.2021dec+flip": lambda: SFaceEmbedder(flip=True),
    "dlib.resnet_v1": DlibEmbedder,
    "fusion.sface-flip+dlib": FusedEmbedder,
}


def make_embedder(name: str) -> Embedder:
    """Build an embedder by name (one of ``EMBEDDERS``)."""
    from faceprint.errors import UnknownModel

    try:
        factory = EMBEDDERS[name]
    except KeyError:
        raise UnknownModel(f"unknown embedder {name!r}; choose one of {', '.join(EMBEDDERS)}") from None
    return factory()
