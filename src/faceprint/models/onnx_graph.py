"""Graph rewrites that make the shipped ONNX files fast in onnxruntime.

The SFace and YuNet files ship with block-quantized int8 weights
(``DequantizeLinear`` with ``block_size``). onnxruntime runs those dequantize
nodes on every call; folding them into fp32 initializers once, at load time, gives
the same outputs. SFace's ``PRelu`` with per-channel slopes falls onto a slow
broadcasting path in onnxruntime's CPU provider. It is rewritten as
``a*x + relu(b*x)`` with per-channel ``a`` and ``b >= 0``, the same function: each
product becomes a per-channel 1x1 convolution in onnxruntime's blocked layout, the
``relu`` fuses into the first and the sum into the second, so a ``PRelu`` costs two
passes over its tensor (see docs/models.md).

SFace ends in a fully connected layer whose fp32 weights (128 x 50176, 26 MB) are
read from memory for every face; two threads doing so at once wait on memory. The
shipped file holds those weights as int8 in blocks of 64, each block with its own
scale and zero point, which is exactly what onnxruntime's ``MatMulNBits`` takes. Run
there, the layer reads a quarter of the bytes. At accuracy level 4 it also quantizes
the layer's input to int8 per block, so this rewrite is not exact: embeddings move
by a cosine of about 2e-6.

``REWRITE_VERSION`` is part of the embedding contract. It changes when the rewrites
change the numbers a model gives beyond float rounding; exact rewrites keep it, and
``tests/unit/test_onnx_graph.py`` holds every rewrite to the plain graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

# onnx (with protobuf) takes ~40 ms to import and is needed only when the rewritten graph
# is not in the disk cache yet: each function imports what it uses.
if TYPE_CHECKING:
    import onnx

REWRITE_VERSION = "fold-dq+prelu+fc-int8-v2"


def optimise(model_bytes: bytes, *, dynamic_batch: bool = True, rewrite_prelu: bool = True, prelu_form: str = "relu", int8_fc: bool = True) -> bytes:
    """Fold constant dequantization and rewrite PRelu; returns a new serialized model.

    ``prelu_form``: ``"relu"`` (``a*x + relu(b*x)``, the fastest) or ``"mix"``
    (``slope*x + (1-slope)*relu(x)``, the first rewrite, kept for comparison).
    ``int8_fc``: run fully connected layers with block-quantized int8 weights as
    ``MatMulNBits`` (not exact; see above).
    """
    import onnx
    from onnx import helper, numpy_helper
    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    dequantized = {n.output[0]: n for n in graph.node if n.op_type == "DequantizeLinear"}
    nodes = []
    for node in graph.node:
        int8 = _gemm_as_int8(node, dequantized, inits, graph) if int8_fc and node.op_type == "Gemm" else None
        if int8 is not None:
            nodes.extend(int8)
            if not any(o.domain == "com.microsoft" for o in model.opset_import):
                model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
        elif node.op_type == "DequantizeLinear" and all(x in inits for x in node.input if x):
            graph.initializer.append(numpy_helper.from_array(_dequantize(node, inits), node.output[0]))
            inits[node.output[0]] = graph.initializer[-1]
        elif node.op_type == "Reshape" and all(x in inits for x in node.input):
            # a constant weight reshaped at run time: reshaped once here, so the
            # PRelu rewrite below can scale the weights of the layer that follows
            shape = numpy_helper.to_array(inits[node.input[1]])
            graph.initializer.append(numpy_helper.from_array(numpy_helper.to_array(inits[node.input[0]]).reshape(shape), node.output[0]))
            inits[node.output[0]] = graph.initializer[-1]
        else:
            nodes.append(node)
    if rewrite_prelu:
        nodes = _rewrite_prelus(nodes, inits, graph, mix_only=prelu_form == "mix")
    del graph.node[:]
    graph.node.extend(nodes)
    _drop_unused(graph)
    if dynamic_batch:
        for tensor in list(graph.input) + list(graph.output):
            tensor.type.tensor_type.shape.dim[0].dim_param = "N"
    return model.SerializeToString()


def _dequantize(node: onnx.NodeProto, inits: dict[str, onnx.TensorProto]) -> np.ndarray:
    from onnx import helper, numpy_helper
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


def _gemm_as_int8(node: onnx.NodeProto, dequantized: dict[str, onnx.NodeProto], inits: dict[str, onnx.TensorProto], graph: onnx.GraphProto) -> list[onnx.NodeProto] | None:
    """``y = x @ W.T + b`` as ``MatMulNBits`` on W's own int8 blocks, when W is a
    constant int8 tensor dequantized in blocks along its input axis; else None."""
    from onnx import helper, numpy_helper
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if attrs.get("transB") != 1 or attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
        return None
    dq = dequantized.get(node.input[1])
    if dq is None or len(dq.input) < 3 or not all(x in inits for x in dq.input):
        return None
    dq_attrs = {a.name: helper.get_attribute_value(a) for a in dq.attribute}
    q = numpy_helper.to_array(inits[dq.input[0]])
    scale = numpy_helper.to_array(inits[dq.input[1]]).astype(np.float32)
    zero = numpy_helper.to_array(inits[dq.input[2]])
    block = int(dq_attrs.get("block_size", 0))
    if q.dtype != np.int8 or zero.dtype != np.int8 or q.ndim != 2 or dq_attrs.get("axis") != 1 or block < 16 or block & (block - 1) or q.shape[1] % block:
        return None
    n, k = q.shape
    if scale.shape != (n, k // block) or zero.shape != scale.shape:
        return None
    y = node.output[0]
    bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
    # MatMulNBits stores unsigned codes; shifting code and zero point by 128 keeps (q - zero)
    codes = (q.astype(np.int16) + 128).astype(np.uint8).reshape(n, k // block, block)
    zeros = (zero.astype(np.int16) + 128).astype(np.uint8).reshape(-1)
    graph.initializer.extend([
        numpy_helper.from_array(codes, f"{y}__codes"),
        numpy_helper.from_array(scale.reshape(-1), f"{y}__scales"),
        numpy_helper.from_array(zeros, f"{y}__zeros"),
    ])
    matmul = helper.make_node(
        "MatMulNBits", [node.input[0], f"{y}__codes", f"{y}__scales", f"{y}__zeros"], [f"{y}__mm" if bias else y],
        domain="com.microsoft", K=k, N=n, bits=8, block_size=block, accuracy_level=4,
    )
    return [matmul, helper.make_node("Add", [f"{y}__mm", bias], [y])] if bias else [matmul]


def _rewrite_prelus(nodes: list[onnx.NodeProto], inits: dict[str, onnx.TensorProto], graph: onnx.GraphProto, *, mix_only: bool = False) -> list[onnx.NodeProto]:
    """Every ``PRelu`` with constant per-channel slopes, as ``a*x + relu(b*x)``.

    For a slope ``s <= 1`` that is ``s*x + relu((1-s)*x)``. For ``s > 1`` it is
    ``s*x - relu((s-1)*x)``, whose minus sign cannot sit inside the fused sum, so the
    channel's output is negated instead (``-s*x + relu((s-1)*x)``) and the layer that
    reads it, a convolution or batch norm, takes the sign into its weights.
    """
    from onnx import helper, numpy_helper
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    uses = {name: len(c) for name, c in consumers.items()}
    out = []
    for node in nodes:
        if node.op_type != "PRelu" or node.input[1] not in inits:
            out.append(node)
            continue
        slope = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32).reshape(-1)
        sign = np.where(slope <= 1.0, 1.0, -1.0).astype(np.float32)
        readers = consumers.get(node.output[0], [])
        if mix_only or ((sign < 0).any() and not (len(readers) == 1 and _take_sign(readers[0], sign, inits, uses))):
            out.extend(_prelu_as_relu_mix(node, inits, graph))  # the sign has nowhere to go
            continue
        x, y = node.input[0], node.output[0]
        graph.initializer.append(numpy_helper.from_array((sign * slope).reshape(-1, 1, 1), f"{y}__a"))
        graph.initializer.append(numpy_helper.from_array(np.abs(1.0 - slope).reshape(-1, 1, 1), f"{y}__b"))
        out += [
            helper.make_node("Mul", [x, f"{y}__b"], [f"{y}__bx"]),
            helper.make_node("Relu", [f"{y}__bx"], [f"{y}__relu"]),
            helper.make_node("Mul", [x, f"{y}__a"], [f"{y}__ax"]),
            helper.make_node("Add", [f"{y}__ax", f"{y}__relu"], [y]),
        ]
    return out


def _take_sign(reader: onnx.NodeProto, sign: np.ndarray, inits: dict[str, onnx.TensorProto], uses: dict[str, int]) -> bool:
    """Make ``reader`` undo a per-channel sign on its input, in its own weights.
    False when it cannot (another kind of node, or weights it shares)."""
    from onnx import numpy_helper

    def owned(name: str) -> bool:
        return name in inits and uses.get(name, 0) == 1

    def scale(name: str, factor: np.ndarray) -> None:
        inits[name].CopyFrom(numpy_helper.from_array((numpy_helper.to_array(inits[name]) * factor).astype(np.float32), name))

    if reader.op_type == "Conv" and owned(reader.input[1]):
        weight = numpy_helper.to_array(inits[reader.input[1]])
        groups = next((a.i for a in reader.attribute if a.name == "group"), 1)
        per_group = weight.shape[1]
        if per_group * groups != len(sign) or weight.shape[0] % groups:
            return False
        # output channel o reads input channels [g*per_group, (g+1)*per_group) of its group g
        rows = sign.reshape(groups, per_group)[np.arange(weight.shape[0]) // (weight.shape[0] // groups)]
        scale(reader.input[1], rows.reshape(weight.shape[0], per_group, *([1] * (weight.ndim - 2))))
        return True
    if reader.op_type == "BatchNormalization" and owned(reader.input[1]) and owned(reader.input[3]):
        # gamma * (sign*z - mean) == (gamma*sign) * (z - sign*mean), as sign*sign == 1
        scale(reader.input[1], sign)
        scale(reader.input[3], sign)
        return True
    return False


def _prelu_as_relu_mix(node: onnx.NodeProto, inits: dict[str, onnx.TensorProto], graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    from onnx import helper, numpy_helper
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
