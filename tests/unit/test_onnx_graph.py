"""The load-time graph rewrites give the numbers the plain graph gives."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from faceprint.models.onnx_graph import optimise
from faceprint.models.sessions import onnx_session

C = 6
# slopes on every side of the cases: negative, zero, between 0 and 1, one, above one
SLOPES = np.array([-0.8, 0.0, 0.25, 1.0, 1.12, 3.0], np.float32)


def _model(*, last_reader: str) -> bytes:
    """Conv -> BN -> PRelu -> Conv -> PRelu -> depthwise Conv -> PRelu -> ``last_reader``,
    the weights reshaped at run time as exported models do."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.5, (C, 3, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(0, 0.5, (C * C,)).astype(np.float32), "w2_flat"),
        numpy_helper.from_array(np.array([C, C, 1, 1], np.int64), "w2_shape"),
        numpy_helper.from_array(rng.normal(0, 0.5, (C, 1, 3, 3)).astype(np.float32), "w3"),
        numpy_helper.from_array(SLOPES.reshape(C, 1, 1), "s1"),
        numpy_helper.from_array(SLOPES[::-1].reshape(C, 1, 1).copy(), "s2"),
        numpy_helper.from_array(np.roll(SLOPES, 2).reshape(C, 1, 1), "s3"),
    ]
    for name in ("bn1", "bn2"):
        inits += [
            numpy_helper.from_array(rng.uniform(0.5, 2, C).astype(np.float32), f"{name}_g"),
            numpy_helper.from_array(rng.normal(0, 0.3, C).astype(np.float32), f"{name}_b"),
            numpy_helper.from_array(rng.normal(0, 0.3, C).astype(np.float32), f"{name}_m"),
            numpy_helper.from_array(rng.uniform(0.5, 2, C).astype(np.float32), f"{name}_v"),
        ]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn1_g", "bn1_b", "bn1_m", "bn1_v"], ["n1"]),
        helper.make_node("PRelu", ["n1", "s1"], ["p1"]),
        helper.make_node("Reshape", ["w2_flat", "w2_shape"], ["w2"]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"]),
        helper.make_node("PRelu", ["c2", "s2"], ["p2"]),
        helper.make_node("Conv", ["p2", "w3"], ["c3"], group=C, pads=[1, 1, 1, 1]),
        helper.make_node("PRelu", ["c3", "s3"], ["p3" if last_reader == "bn" else "y"]),
    ]
    if last_reader == "bn":
        nodes.append(helper.make_node("BatchNormalization", ["p3", "bn2_g", "bn2_b", "bn2_m", "bn2_v"], ["y"]))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, C, 16, 16])], inits
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


@pytest.mark.parametrize("last_reader", ["bn", "graph output"])
def test_the_prelu_rewrite_gives_the_plain_graphs_numbers(last_reader: str) -> None:
    model = _model(last_reader=last_reader)
    x = np.random.default_rng(1).normal(0, 2, (1, 3, 16, 16)).astype(np.float32)
    plain = onnx_session(optimise(model, rewrite_prelu=False)).run(None, {"x": x})[0]
    rewritten_bytes = optimise(model)
    rewritten = onnx_session(rewritten_bytes).run(None, {"x": x})[0]
    assert np.abs(rewritten - plain).max() < 1e-4 * np.abs(plain).max()
    graph = onnx.load_from_string(rewritten_bytes).graph
    assert not {"PRelu", "Reshape"} & {n.op_type for n in graph.node}
    # Every PRelu has slopes above one. The sign moves into the convolution or batch
    # norm that reads it (relu form); the graph's output has no reader, so that one
    # keeps the mixed form.
    forms = sorted("relu" if i.name.endswith("__b") else "mix" for i in graph.initializer if i.name.endswith(("__b", "__keep")))
    assert forms == (["relu"] * 3 if last_reader == "bn" else ["mix", "relu", "relu"])


def test_sface_rewrites_keep_its_numbers() -> None:
    """The PRelu rewrites are exact; the int8 fully connected layer moves embeddings by
    a cosine of a few millionths, far below anything a threshold can see."""
    from faceprint.models import card, read_verified

    raw = read_verified(card("sface.2021dec"))
    x = np.random.default_rng(2).integers(0, 255, (2, 3, 112, 112)).astype(np.float32)
    plain = onnx_session(optimise(raw, rewrite_prelu=False, int8_fc=False))
    name = plain.get_inputs()[0].name
    a = plain.run(None, {name: x})[0]

    def cosine(model: bytes) -> float:
        out = onnx_session(model).run(None, {name: x})[0]
        return float(((a * out).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(out, axis=1)).min())

    assert cosine(optimise(raw, int8_fc=False)) > 0.999999
    assert cosine(optimise(raw, prelu_form="mix", int8_fc=False)) > 0.999999
    int8 = optimise(raw)
    assert "MatMulNBits" in {n.op_type for n in onnx.load_from_string(int8).graph.node}
    assert 0.9999 < cosine(int8) < 1.0
