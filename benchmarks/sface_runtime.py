"""SFace runtimes on one core: OpenCV's FaceRecognizerSF on the shipped file, and
onnxruntime after each of faceprint's graph rewrites. Writes OUT/sface_runtime.json.

    python benchmarks/sface_runtime.py --out bench-output
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import cv2
import numpy as np

from faceprint.models import card, locate, read_verified
from faceprint.models.onnx_graph import optimise
from faceprint.models.sessions import onnx_session


def per_call_ms(fn, repeat: int = 60) -> float:  # noqa: ANN001
    fn()
    t = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t) / repeat * 1000


def _int8(model: bytes) -> bytes:
    """Static int8 quantization, for timing only: calibrated on noise, so its accuracy
    means nothing; it answers whether int8 kernels are faster on this CPU."""
    import tempfile

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Noise(CalibrationDataReader):
        def __init__(self) -> None:
            self.left = 8

        def get_next(self) -> dict | None:
            self.left -= 1
            return None if self.left < 0 else {"data": np.random.default_rng(self.left).integers(0, 255, (1, 3, 112, 112)).astype(np.float32)}

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(model)
        quantize_static(str(src), str(dst), Noise(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        return dst.read_bytes()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("bench-output"))
    args = ap.parse_args()
    c = card("sface.2021dec")
    raw = read_verified(c)
    crop = np.random.default_rng(0).integers(0, 255, (112, 112, 3), dtype=np.uint8)
    x1 = crop.transpose(2, 0, 1)[None].astype(np.float32)
    x8 = np.repeat(x1, 8, axis=0)
    cv2.setNumThreads(1)
    rec = cv2.FaceRecognizerSF.create(str(locate(c)), "")
    folded = onnx_session(optimise(raw, rewrite_prelu=False))
    rewritten = onnx_session(optimise(raw))
    name = rewritten.get_inputs()[0].name
    int8 = onnx_session(_int8(optimise(raw)))
    res = {
        "opencv FaceRecognizerSF (shipped int8bq file)": per_call_ms(lambda: rec.feature(crop)),
        "onnxruntime, weights folded": per_call_ms(lambda: folded.run(None, {name: x1})),
        "onnxruntime, weights folded + PRelu rewritten (faceprint)": per_call_ms(lambda: rewritten.run(None, {name: x1})),
        "same, batch of 8 (per face)": per_call_ms(lambda: rewritten.run(None, {name: x8}), repeat=10) / 8,
        "onnxruntime, static int8 QDQ per-channel (timing only)": per_call_ms(lambda: int8.run(None, {name: x1})),
    }
    machine = f"{platform.processor() or platform.machine()}, 1 thread, Python {platform.python_version()}"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sface_runtime.json").write_text(json.dumps({"machine": machine, "ms_per_face": res}, indent=2))
    for k, v in res.items():
        print(f"{v:6.1f} ms  {k}")


if __name__ == "__main__":
    main()
