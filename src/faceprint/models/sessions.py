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


def litert_interpreter(model_bytes: bytes, *, threads: int = 1) -> object:
    """A LiteRT interpreter for a ``.tflite`` model, tensors allocated.

    Imported here: only the dense-landmark models need LiteRT.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from faceprint.errors import ModelNotAvailable

        raise ModelNotAvailable("the dense-landmark models need LiteRT: pip install 'ai-edge-litert==2.3.0'") from None
    interp = Interpreter(model_content=model_bytes, num_threads=threads)
    interp.allocate_tensors()
    return interp
