"""onnxruntime sessions built the same way everywhere."""

from __future__ import annotations

import onnxruntime as ort


def onnx_session(model_bytes: bytes, *, threads: int = 1) -> ort.InferenceSession:
    """A CPU session. One intra-op thread per session: faceprint parallelises across
    faces and images instead, which measured about twice as fast on 2 cores."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
