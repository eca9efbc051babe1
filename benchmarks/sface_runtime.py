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


def per_call_ms(fns: dict, rounds: int = 7, repeat: int = 30) -> dict[str, float]:  # type: ignore[type-arg]
    """Milliseconds per call of each function: the median over rounds in which the
    functions take turns, so a slow spell of a shared machine falls on all of them."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            for _ in range(repeat):
                fn()
            times[name].append((time.perf_counter() - t) / repeat * 1000)
    return {name: float(np.median(v)) for name, v in times.items()}


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


def _last_layer(raw: bytes, *, int8: bool) -> bytes:
    """SFace's fully connected layer as a model of its own (input ``features``)."""
    import onnx

    model = onnx.load_from_string(optimise(raw, int8_fc=int8))
    graph = model.graph
    last = onnx.NodeProto()
    last.CopyFrom([n for n in graph.node if n.op_type in ("Gemm", "MatMulNBits")][-1])
    nodes = [last]
    if last.op_type == "MatMulNBits":  # and the Add of its bias
        bias = onnx.NodeProto()
        bias.CopyFrom(next(n for n in graph.node if n.op_type == "Add" and last.output[0] in n.input))
        nodes.append(bias)
    last.input[0] = "features"
    out = nodes[-1].output[0]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.input[:]
    graph.input.append(onnx.helper.make_tensor_value_info("features", onnx.TensorProto.FLOAT, [1, 50176]))
    del graph.output[:]
    graph.output.append(onnx.helper.make_tensor_value_info(out, onnx.TensorProto.FLOAT, [1, 128]))
    used = {i for n in nodes for i in n.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model.SerializeToString()


def _two_threads_ms(model: bytes, x: np.ndarray, repeat: int = 150) -> float:
    import threading

    sessions = [onnx_session(model), onnx_session(model)]
    name = sessions[0].get_inputs()[0].name
    times: list[float] = []

    def run(session) -> None:  # noqa: ANN001
        for _ in range(10):
            session.run(None, {name: x})
        t = time.perf_counter()
        for _ in range(repeat):
            session.run(None, {name: x})
        times.append((time.perf_counter() - t) / repeat * 1000)

    threads = [threading.Thread(target=run, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return float(np.mean(times))


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
    folded = onnx_session(optimise(raw, rewrite_prelu=False, int8_fc=False))
    mixed = onnx_session(optimise(raw, prelu_form="mix", int8_fc=False))
    relu_form = onnx_session(optimise(raw, int8_fc=False))
    rewritten = onnx_session(optimise(raw))
    name = rewritten.get_inputs()[0].name
    int8 = onnx_session(_int8(optimise(raw, int8_fc=False)))
    res = per_call_ms({
        "opencv FaceRecognizerSF (shipped int8bq file)": lambda: rec.feature(crop),
        "onnxruntime, weights folded": lambda: folded.run(None, {name: x1}),
        "onnxruntime, folded + PRelu as slope*x + (1-slope)*relu(x) (first rewrite)": lambda: mixed.run(None, {name: x1}),
        "onnxruntime, folded + PRelu as a*x + relu(b*x)": lambda: relu_form.run(None, {name: x1}),
        "onnxruntime, same + int8 fully connected layer (faceprint)": lambda: rewritten.run(None, {name: x1}),
        "same, batch of 8 (per face)": lambda: rewritten.run(None, {name: x8}),
        "onnxruntime, static int8 QDQ per-channel (timing only)": lambda: int8.run(None, {name: x1}),
    })
    res["same, batch of 8 (per face)"] /= 8
    # Two threads at once, as the engine runs them: the fp32 fully connected layer's
    # 26 MB of weights, read by both, make them wait on memory.
    for label, model in (("fp32", optimise(raw, int8_fc=False)), ("int8", optimise(raw))):
        res[f"two threads at once, {label} fully connected layer (per face, per thread)"] = _two_threads_ms(model, x1)
    # the fully connected layer alone, where the difference is
    features = np.random.default_rng(1).normal(0, 1, (1, 50176)).astype(np.float32)
    for label, model in (("fp32", _last_layer(raw, int8=False)), ("int8", _last_layer(raw, int8=True))):
        layer = onnx_session(model)
        res[f"the fully connected layer alone, {label}, one thread"] = per_call_ms({"": lambda: layer.run(None, {"features": features})})[""]
        res[f"the fully connected layer alone, {label}, two threads at once (per thread)"] = _two_threads_ms(model, features)
    machine = f"{platform.processor() or platform.machine()}, 1 thread, Python {platform.python_version()}"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sface_runtime.json").write_text(json.dumps({"machine": machine, "ms_per_face": res}, indent=2))
    for k, v in res.items():
        print(f"{v:6.1f} ms  {k}")


if __name__ == "__main__":
    main()
