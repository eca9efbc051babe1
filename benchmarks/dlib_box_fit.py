"""Where does dlib's HOG detector put its box, relative to YuNet's landmarks?

dlib's 5-point predictor was trained on HOG boxes; faceprint builds a square box from
YuNet's landmarks for it (analysis/embed.py, DlibEmbedder._rect). This measures, on
250 LFW images where both detectors find exactly one face, HOG's box centre offset and
side in units of the eye-to-mouth distance.

    python benchmarks/dlib_box_fit.py
"""

from __future__ import annotations

import os
from pathlib import Path

import dlib
import numpy as np

import faceprint as fp

DATA = Path(os.environ.get("FACEPRINT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main() -> None:
    hog = dlib.get_frontal_face_detector()
    engine = fp.Engine()
    rows = []
    for f in sorted((DATA / "lfw" / "images").glob("*/*.jpg"))[::25][:300]:
        img = engine.load(f)
        boxes = hog(img, 1)
        faces = engine.detect(img)
        if len(boxes) != 1 or len(faces) != 1:
            continue
        r, lm = boxes[0], faces.landmarks[0]
        eyes, mouth = lm[:2].mean(0), lm[3:].mean(0)
        centre, d = (eyes + mouth) / 2, float(np.linalg.norm(mouth - eyes))
        hog_centre = np.array([(r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2])
        rows.append([*(hog_centre - centre) / d, (r.width() + r.height()) / 2 / d])
    a = np.array(rows)
    mean, std = a.mean(0), a.std(0)
    print(f"{len(a)} images; HOG box centre offset x {mean[0]:+.2f} +- {std[0]:.2f}, y {mean[1]:+.2f} +- {std[1]:.2f}; "
          f"side {mean[2]:.2f} +- {std[2]:.2f} eye-mouth distances")


if __name__ == "__main__":
    main()
