"""Face detection with YuNet (boxes, five landmarks, confidence)."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from faceprint.models import card, read_verified
from faceprint.types import Faces, FacesMeta

# YuNet's smallest anchors find faces of about 10-16 px reliably; we scale an image
# down until its smallest face of interest is this size, never up.
_YUNET_MIN_FACE_PX = 20.0


class YuNetDetector:
    """YuNet run by OpenCV's ``FaceDetectorYN``.

    Args:
        score_threshold: minimum detection confidence, 0-1.
        nms_threshold: IoU above which overlapping boxes are merged.
        max_side_px: images are scaled down so their longer side is at most this.
        min_face_px: the smallest face (shorter box side, in the original image) the
            caller cares about. Larger values let the detector work on a smaller
            image, which is faster; faces much smaller than this may be missed.
    """

    name = "yunet.2023mar"

    def __init__(
        self,
        *,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        max_side_px: int = 1280,
        min_face_px: float = 32.0,
    ) -> None:
        self.card = card(self.name)
        self._model = np.frombuffer(read_verified(self.card), dtype=np.uint8)
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_side_px = max_side_px
        self.min_face_px = min_face_px
        # FaceDetectorYN keeps per-call state (its input size): one per thread.
        self._local = threading.local()

    def _net(self, w: int, h: int) -> cv2.FaceDetectorYN:
        net = getattr(self._local, "net", None)
        if net is None:
            net = cv2.FaceDetectorYN.create(
                "onnx", self._model, np.zeros(0, np.uint8), (w, h),
                self.score_threshold, self.nms_threshold, 5000,
            )
            self._local.net = net
        net.setInputSize((w, h))
        return net

    def scale_for(self, w: int, h: int) -> float:
        """The factor the image is resized by before detection (at most 1)."""
        scale = min(1.0, self.max_side_px / max(w, h), _YUNET_MIN_FACE_PX / max(self.min_face_px, 1.0))
        # Never shrink the short side below 64 px: the whole image may be one face.
        return max(scale, min(1.0, 64.0 / min(w, h)))

    def detect(self, image: np.ndarray) -> Faces:
        """Detect faces in an ``HxWx3`` uint8 RGB image; boxes in its pixels."""
        h, w = image.shape[:2]
        meta = FacesMeta(image_wh=(w, h), detector=self.name)
        if min(w, h) < 8:
            return Faces.empty(meta)
        scale = self.scale_for(w, h)
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        if scale < 1.0:
            sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
            bgr = cv2.resize(bgr, (sw, sh), interpolation=cv2.INTER_AREA)
        else:
            sw, sh = w, h
        _, raw = self._net(sw, sh).detect(bgr)
        if raw is None or len(raw) == 0:
            return Faces.empty(meta)
        raw = raw.astype(np.float32)
        sx, sy = w / sw, h / sh
        xyxy = np.stack([raw[:, 0] * sx, raw[:, 1] * sy, (raw[:, 0] + raw[:, 2]) * sx, (raw[:, 1] + raw[:, 3]) * sy], axis=1)
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
        landmarks = raw[:, 4:14].reshape(-1, 5, 2) * np.array([sx, sy], np.float32)
        keep = (xyxy[:, 2] - xyxy[:, 0] >= 2) & (xyxy[:, 3] - xyxy[:, 1] >= 2)
        return Faces(xyxy=xyxy[keep], score=raw[keep, 14], landmarks=landmarks[keep], meta=meta)
