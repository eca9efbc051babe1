"""Graph rewrites that make the shipped ONNX files fast in onnxruntime.

The SFace and YuNet files ship with block-quantized int8 weights
(``DequantizeLinear`` with ``block_size``). onnxruntime runs those dequantize
nodes on every call; folding them into fp32 initializers once, at load time, gives
the same outputs. SFace's ``PRelu`` with per-channel slopes falls onto a slow
broadcasting path in onnxruntime's CPU provider; ``slope*x + (1-slope)*relu(x)``
is the same function and about twice as fast there (see docs/models.md).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

REWRITE_VERSION = "fold-dq+prelu-v1"


def optimise(model_bytes: bytes, *, dynamic_batch: bool = True, rewrite_prelu: bool = True) -> bytes:
    """Fold constant dequantization and rewrite PRelu; returns a new serialized model."""
    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    nodes = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(x in inits for x in node.input if x):
            weight = _dequantize(node, inits)
            graph.initializer.append(numpy_helper.from_array(weight, node.output[0]))
        elif rewrite_prelu and node.op_type == "PRelu" and node.input[1] in inits:
            nodes.extend(_prelu_as_relu_mix(node, inits, graph))
        else:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    _drop_unused(graph)
    if dynamic_batch:
        for tensor in list(graph.input) + list(graph.output):
            tensor.type.tensor_type.shape.dim[0].dim_param = "N"
    return model.SerializeToString()


def _dequantize(node: onnx.NodeProto, inits: dict[str, onnx.TensorProto]) -> np.ndarray:
    q = numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)
    scale = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
    has_zero = len(node.input) > 2 and node.input[2]
    zero = numpy_helper.to_array(inits[node.input[2]]).astype(np.float32) if has_zero else np.zeros_like(scale)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    axis = attrs.get("axis", 1) % max(q.ndim, 1)
    block = attrs.get("block_size", 0)
    if scale.ndim == 0 or scale.size == 1:
        return ((q - zero.reshape(())) * scale.reshape(())).astype(np.float32)
    if block:
        scale = np.repeat(scale, block, axis=axis)
        zero = np.repeat(zero, block, axis=axis)
        cut = [slice(None)] * q.ndim
        cut[axis] = slice(0, q.shape[axis])
        return ((q - zero[tuple(cut)]) * scale[tuple(cut)]).astype(np.float32)
    shape = [1] * q.ndim
    shape[axis] = -1
    return ((q - zero.reshape(shape)) * scale.reshape(shape)).astype(np.float32)


def _prelu_as_relu_mix(node: onnx.NodeProto, inits: dict[str, onnx.TensorProto], graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    x, slope_name = node.input
    y = node.output[0]
    slope = numpy_helper.to_array(inits[slope_name]).astype(np.float32)
    if slope.ndim == 1:
        slope = slope.reshape(-1, 1, 1)
    graph.initializer.append(numpy_helper.from_array(slope, f"{y}__slope"))
    graph.initializer.append(numpy_helper.from_array((1.0 - slope).astype(np.float32), f"{y}__keep"))
    return [
        helper.make_node("Relu", [x], [f"{y}__relu"]),
        helper.make_node("Mul", [x, f"{y}__slope"], [f"{y}__lin"]),
        helper.make_node("Mul", [f"{y}__relu", f"{y}__keep"], [f"{y}__pos"]),
        helper.make_node("Add", [f"{y}__lin", f"{y}__pos"], [y]),
    ]


def _drop_unused(graph: onnx.GraphProto) -> None:
    used = {x for n in graph.node for x in n.input} | {o.name for o in graph.output}
    keep = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    names = {i.name for i in graph.initializer}
    # Old exporters list weights as graph inputs too; those stop the optimiser from
    # treating them as constants, and some of them are dangling after quantization.
    inputs = [i for i in graph.input if i.name not in names and i.name in used]
    del graph.input[:]
    graph.input.extend(inputs)
