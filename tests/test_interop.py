"""Targets from real files made by the real libraries (numpy, safetensors, onnx, torch), read exactly."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import exactrev
from exactrev import ExactrevError, FormatError, Network, Oracle
from exactrev.cli import main as cli_main
from exactrev.interop import load_target, read_npz, read_onnx, read_safetensors

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


# ------------------------------------------------------------------ helpers
def random_layers(widths: list[int], dtype: type = np.float32, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """He-style random (W [out, in], b [out]) in `dtype` -- arbitrary floats, not round numbers."""
    rng = np.random.default_rng(seed)
    return [((rng.standard_normal((o, i)) * np.sqrt(2 / i)).astype(dtype), (rng.standard_normal(o) * 0.1).astype(dtype))
            for i, o in zip(widths, widths[1:])]


def dyadic_layers(widths: list[int], seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Small multiples of 1/16: float64 inference on them (and on dyadic inputs) is exact."""
    rng = np.random.default_rng(seed)
    return [(rng.integers(-16, 17, (o, i)) / 16.0, rng.integers(-16, 17, o) / 16.0) for i, o in zip(widths, widths[1:])]


def numpy_forward(layers: list[tuple[np.ndarray, np.ndarray]], xs: np.ndarray) -> np.ndarray:
    """Plain numpy float64 inference on the arrays' values: the reference a user's own code would compute."""
    h = xs.astype(np.float64)
    for k, (w, b) in enumerate(layers):
        h = h @ w.astype(np.float64).T + b.astype(np.float64)
        if k < len(layers) - 1:
            h = np.maximum(h, 0)
    return h


def exact(a: np.ndarray) -> list:
    """Entries as exact Fractions via Python's own float->Fraction (independent of exactrev's reader)."""
    return [exact(r) for r in a] if a.ndim > 1 else [Fraction(float(v)) for v in a]


def assert_params_equal(net: Network, layers: list[tuple[np.ndarray, np.ndarray]]) -> None:
    assert len(net.weights) == len(layers)
    for (w, b), nw, nb in zip(layers, net.weights, net.biases):
        assert [list(r) for r in nw] == exact(w)
        assert list(nb) == exact(b)


def points(n_in: int, count: int = 16, seed: int = 1) -> np.ndarray:
    """Dyadic inputs (multiples of 1/8): exactly representable in every float type."""
    return np.random.default_rng(seed).integers(-24, 25, (count, n_in)) / 8.0


def assert_outputs_match(net: Network, xs: np.ndarray, ys: np.ndarray, *, exact_ok: bool, ulp: float) -> None:
    """Exact outputs equal the library's (exact_ok) or agree to its float rounding (relative to the scale)."""
    outs = net.evaluate_batch(xs.tolist())
    if exact_ok:
        assert outs == [[Fraction(float(v)) for v in row] for row in ys]
    else:
        ref = np.array([[float(v) for v in row] for row in outs])
        scale = 1 + np.abs(ref).max()
        np.testing.assert_allclose(ys.astype(np.float64), ref, rtol=0, atol=64 * ulp * scale)


def save_npz(path, layers, **extra) -> None:
    arrays = {f"{n}{k}": a for k, (w, b) in enumerate(layers) for n, a in (("W", w), ("b", b))}
    np.savez(path, **arrays, **extra)


# ---------------------------------------------------------------------- npz
@settings(max_examples=12, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=2, max_size=4), st.sampled_from([np.float16, np.float32, np.float64]),
       st.integers(0, 2**16))
def test_npz_parameters_are_the_exact_array_values(tmp_path_factory, widths, dtype, seed):
    layers = random_layers(widths, dtype, seed)
    path = tmp_path_factory.mktemp("npz") / "net.npz"
    save_npz(path, layers)
    net = load_target(path)
    assert net.widths == widths
    assert_params_equal(net, layers)
    xs = points(widths[0])
    assert_outputs_match(net, xs, numpy_forward(layers, xs), exact_ok=False, ulp=float(np.finfo(np.float64).eps))


def test_npz_float64_inference_on_dyadic_net_is_exactly_reproduced(tmp_path):
    layers = dyadic_layers([3, 6, 4, 2])
    save_npz(tmp_path / "d.npz", layers)
    xs = points(3)
    assert_outputs_match(read_npz(tmp_path / "d.npz"), xs, numpy_forward(layers, xs), exact_ok=True, ulp=0)


def test_npz_integer_arrays_are_exact(tmp_path):
    save_npz(tmp_path / "i.npz", [(np.array([[3, -2]], dtype=np.int64), np.array([7], dtype=np.int32))])
    net = read_npz(tmp_path / "i.npz")
    assert net([Fraction(1, 3), 1]) == [Fraction(6)]


@pytest.mark.parametrize("mutate, fragment", [
    (lambda a: a.pop("b1"), "missing array(s) b1"),
    (lambda a: a.update(W3=np.ones((1, 4)), b3=np.ones(1)), "missing array(s) W2, b2"),
    (lambda a: a.update(extra=np.ones(2)), "unexpected array(s) 'extra'"),
    (lambda a: a.update(W1=a["W1"].T.copy()), "W1 has shape (4, 2): its 2 columns must match the 4 rows of W0"),
    (lambda a: a.update(b0=a["b0"][:, None].copy()), "b0 has shape (4, 1), expected (4,)"),
    (lambda a: a.update(W0=a["W0"][0].copy()), "W0 has shape (3,)"),
    (lambda a: a["W1"].__setitem__((1, 2), np.nan), "W1[1][2] is nan"),
    (lambda a: a.update(b0=np.array(["a", "b", "c", "d"])), "b0: dtype <U1 is not a real number type"),
])
def test_npz_errors_name_file_and_array(tmp_path, mutate, fragment):
    arrays = {f"{n}{k}": a for k, (w, b) in enumerate(random_layers([3, 4, 2], np.float64)) for n, a in (("W", w), ("b", b))}
    mutate(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(FormatError) as e:
        load_target(path)
    assert str(path) in str(e.value) and fragment in str(e.value)


def test_npz_never_unpickles(tmp_path):
    np.savez(tmp_path / "obj.npz", W0=np.array([[1, None]], dtype=object), b0=np.zeros(1))
    with pytest.raises(FormatError, match="'W0' cannot be read without unpickling"):
        read_npz(tmp_path / "obj.npz")
    (tmp_path / "pickle.npz").write_bytes(b"\x80\x04K\x01.")  # a pickle stream named .npz
    with pytest.raises(FormatError, match="not a NumPy .npz archive"):
        read_npz(tmp_path / "pickle.npz")
    np.save(tmp_path / "one.npy", np.zeros(3))
    (tmp_path / "one.npz").write_bytes((tmp_path / "one.npy").read_bytes())
    with pytest.raises(FormatError, match="single .npy array"):
        read_npz(tmp_path / "one.npz")


# -------------------------------------------------------------- safetensors
def state_dict(layers, prefix: str = "", stride: int = 2) -> dict[str, np.ndarray]:
    out = {}
    for k, (w, b) in enumerate(layers):
        out[f"{prefix}{k * stride}.weight"] = w
        if b is not None:
            out[f"{prefix}{k * stride}.bias"] = b
    return out


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_safetensors_state_dict_read_exactly(tmp_path, dtype):
    from safetensors.numpy import save_file
    layers = random_layers([4, 7, 5, 3], dtype, seed=3)
    save_file(state_dict(layers), str(tmp_path / "m.safetensors"))
    net = load_target(tmp_path / "m.safetensors")
    assert_params_equal(net, layers)
    xs = points(4)
    assert_outputs_match(net, xs, numpy_forward(layers, xs), exact_ok=False, ulp=float(np.finfo(np.float64).eps))


def test_safetensors_bfloat16_prefix_and_missing_bias(tmp_path):
    import ml_dtypes
    from safetensors.numpy import save_file
    layers = [(w.astype(ml_dtypes.bfloat16), b) for w, b in random_layers([3, 4, 2], np.float32, seed=5)]
    layers[1] = (layers[1][0], None)  # nn.Linear(bias=False)
    save_file(state_dict(layers, prefix="net.", stride=3), str(tmp_path / "bf.safetensors"))
    net = read_safetensors(tmp_path / "bf.safetensors")
    assert [list(r) for r in net.weights[0]] == exact(layers[0][0].astype(np.float64))
    assert list(net.biases[1]) == [0, 0]


@pytest.mark.parametrize("extra, fragment", [
    ({"1.running_mean": np.zeros(4, np.float32)}, "'1.running_mean'; it belongs to a batch-norm layer"),
    ({"1.weight": np.ones(4, np.float32), "1.bias": np.zeros(4, np.float32)}, "are adjacent"),
    ({"4.weight": np.ones((2, 2, 3, 3), np.float32)}, "'4.weight' has shape (2, 2, 3, 3), a convolution kernel"),
    ({"head.0.weight": np.ones((1, 2), np.float32)}, "belong to different modules"),
    ({"4.bias": np.ones(2, np.float32)}, "'4.bias' has no matching weight"),
])
def test_safetensors_unsupported_layers_are_named(tmp_path, extra, fragment):
    from safetensors.numpy import save_file
    path = tmp_path / "x.safetensors"
    save_file({**state_dict(random_layers([3, 4, 2])), **extra}, str(path))
    with pytest.raises(FormatError) as e:
        load_target(path)
    assert str(path) in str(e.value) and fragment in str(e.value)


def test_safetensors_garbage_is_a_format_error(tmp_path):
    (tmp_path / "g.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":1}")
    with pytest.raises(FormatError, match="not a valid safetensors file"):
        read_safetensors(tmp_path / "g.safetensors")


# --------------------------------------------------------------------- onnx
def onnx_model(nodes, inits, n_in, n_out, elem=TensorProto.FLOAT, in_shape=None):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", elem, in_shape or ["N", n_in])],
        [helper.make_tensor_value_info("y", elem, ["N", n_out])],
        [numpy_helper.from_array(a, name) for name, a in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def gemm_chain(layers, *, trans_b: bool = True, alpha: float = 1.0, beta: float = 1.0, first: str = "x"):
    """Gemm, Relu, Gemm, ... as torch.onnx.export writes nn.Linear (transB=1) or with B stored [in, out]."""
    nodes, inits, cur = [], {}, first
    for k, (w, b) in enumerate(layers):
        inits[f"W{k}"] = w if trans_b else w.T.copy()
        inits[f"B{k}"] = b
        out = "y" if k == len(layers) - 1 else f"z{k}"
        nodes.append(helper.make_node("Gemm", [cur, f"W{k}", f"B{k}"], [out], name=f"gemm{k}",
                                      transB=int(trans_b), alpha=alpha, beta=beta))
        if k < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [out], [f"h{k}"], name=f"relu{k}"))
            cur = f"h{k}"
    return nodes, inits


def matmul_add_chain(layers):
    nodes, inits, cur = [], {}, "x"
    for k, (w, b) in enumerate(layers):
        inits[f"W{k}"], inits[f"B{k}"] = w.T.copy(), b
        out = "y" if k == len(layers) - 1 else f"a{k}"
        nodes += [helper.make_node("MatMul", [cur, f"W{k}"], [f"m{k}"], name=f"matmul{k}"),
                  helper.make_node("Add", [f"B{k}", f"m{k}"] if k % 2 else [f"m{k}", f"B{k}"], [out], name=f"add{k}")]
        if k < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [out], [f"h{k}"], name=f"relu{k}"))
            cur = f"h{k}"
    return nodes, inits


def run_ort(model, xs: np.ndarray) -> np.ndarray:
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": xs})[0]


def roundtrip(tmp_path, model, name: str = "m.onnx") -> Network:
    path = tmp_path / name
    onnx.save(model, str(path))
    return load_target(path)


@pytest.mark.parametrize("build", ["gemm_transB", "gemm_alpha_beta", "matmul_add"])
def test_onnx_float32_matches_onnxruntime(tmp_path, build):
    layers = random_layers([5, 8, 6, 3], np.float32, seed=7)
    if build == "gemm_transB":
        nodes, inits = gemm_chain(layers)
    elif build == "gemm_alpha_beta":
        nodes, inits = gemm_chain(layers, trans_b=False, alpha=0.5, beta=-2.0)
    else:
        nodes, inits = matmul_add_chain(layers)
    model = onnx_model(nodes, inits, 5, 3)
    net = roundtrip(tmp_path, model)
    scale_w, scale_b = (Fraction(1, 2), Fraction(-2)) if build == "gemm_alpha_beta" else (1, 1)
    for (w, b), nw, nb in zip(layers, net.weights, net.biases):
        assert [list(r) for r in nw] == [[scale_w * v for v in row] for row in exact(w)]
        assert list(nb) == [scale_b * v for v in exact(b)]
    xs = points(5, 32).astype(np.float32)
    assert_outputs_match(net, xs, run_ort(model, xs), exact_ok=False, ulp=float(np.finfo(np.float32).eps))


def test_onnx_float64_dyadic_net_reproduces_onnxruntime_exactly(tmp_path):
    layers = dyadic_layers([4, 6, 5, 2], seed=2)
    model = onnx_model(*gemm_chain(layers), 4, 2, elem=TensorProto.DOUBLE)
    xs = points(4, 32)
    assert_outputs_match(roundtrip(tmp_path, model), xs, run_ort(model, xs), exact_ok=True, ulp=0)


def test_onnx_flatten_identity_and_trailing_relu(tmp_path):
    layers = random_layers([4, 3, 2], np.float32, seed=9)
    nodes, inits = gemm_chain(layers, first="f")
    nodes = [helper.make_node("Identity", ["x"], ["i"], name="id"),
             helper.make_node("Flatten", ["i"], ["f"], name="flat", axis=1)] + nodes
    nodes[-1].output[0] = "pre"
    nodes.append(helper.make_node("Relu", ["pre"], ["y"], name="out_relu"))
    model = onnx_model(nodes, inits, 4, 2, in_shape=["N", 1, 2, 2])
    net = roundtrip(tmp_path, model)
    assert net.widths == [4, 3, 2, 2]  # the trailing ReLU becomes an identity output layer
    xs = points(4, 32).astype(np.float32)
    ys = run_ort(model, xs.reshape(-1, 1, 2, 2))
    assert_outputs_match(net, xs, ys, exact_ok=False, ulp=float(np.finfo(np.float32).eps))


def test_onnx_constant_node_weights(tmp_path):
    const = helper.make_node("Constant", [], ["W"], value=numpy_helper.from_array(np.array([[0.75, -1.5]], np.float32)))
    model = onnx_model([const, helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")], {}, 1, 2)
    assert roundtrip(tmp_path, model).weights == (((Fraction(3, 4),), (Fraction(-3, 2),)),)
    model = onnx_model([const, helper.make_node("Transpose", ["W"], ["Wt"], name="t"),
                        helper.make_node("MatMul", ["x", "Wt"], ["y"], name="mm")], {}, 2, 1)
    with pytest.raises(FormatError, match=r"node t \(Transpose\) is not supported on constants"):
        roundtrip(tmp_path, model, "t.onnx")


def test_onnx_consecutive_affine_maps_compose_exactly(tmp_path):
    (w0, b0), (w1, b1), (w2, b2) = dyadic_layers([3, 4, 2, 1], seed=6)
    shift = np.array([0.5, -0.25, 1.0])
    nodes = [helper.make_node("Add", ["x", "shift"], ["s"], name="shift_input"),
             helper.make_node("Gemm", ["s", "W0", "B0"], ["g0"], name="g0", transB=1),
             helper.make_node("Gemm", ["g0", "W1", "B1"], ["g1"], name="g1", transB=1),  # no ReLU between
             helper.make_node("Relu", ["g1"], ["h"], name="relu"),
             helper.make_node("MatMul", ["h", "W2t"], ["m"], name="mm"),
             helper.make_node("Add", ["m", "B2"], ["y"], name="add")]
    inits = {"shift": shift, "W0": w0, "B0": b0, "W1": w1, "B1": b1, "W2t": w2.T.copy(), "B2": b2}
    model = onnx_model(nodes, inits, 3, 1, elem=TensorProto.DOUBLE)
    net = roundtrip(tmp_path, model)
    assert net.widths == [3, 2, 1]
    xs = points(3, 32)
    assert_outputs_match(net, xs, run_ort(model, xs), exact_ok=True, ulp=0)


def unsupported_graphs():
    """(label, nodes, inits, n_in, n_out, expected fragment): valid ONNX models exactrev must refuse."""
    w = random_layers([4, 4, 4, 2], np.float32, seed=11)
    base_nodes, inits = gemm_chain(w)
    tanh = [n if n.op_type != "Relu" else helper.make_node("Tanh", n.input, n.output, name=f"tanh_{n.name}")
            for n in base_nodes]
    sig = [n if n.name != "relu1" else helper.make_node("Sigmoid", n.input, n.output, name="sig1") for n in base_nodes]
    bn_inits = {**inits, "s": np.ones(4, np.float32), "o": np.zeros(4, np.float32),
                "mu": np.zeros(4, np.float32), "var": np.ones(4, np.float32)}
    bn = list(base_nodes)
    bn.insert(1, helper.make_node("BatchNormalization", ["z0", "s", "o", "mu", "var"], ["bn0"], name="bn"))
    bn[2] = helper.make_node("Relu", ["bn0"], ["h0"], name="relu0")
    skip = list(base_nodes)
    skip[2] = helper.make_node("Gemm", ["h0", "W1", "B1"], ["z1a"], name="gemm1", transB=1)
    skip.insert(3, helper.make_node("Add", ["z1a", "h0"], ["z1"], name="residual"))
    branch = list(base_nodes)
    branch[2] = helper.make_node("Gemm", ["x", "W1", "B1"], ["z1"], name="gemm1", transB=1)
    conv_inits = {"K": np.ones((1, 1, 2, 2), np.float32), **{k: v for k, v in inits.items() if k != "W0"},
                  "W0": np.ones((4, 9), np.float32)}
    conv = [helper.make_node("Conv", ["x", "K"], ["c"], name="conv"),
            helper.make_node("Flatten", ["c"], ["f"], name="flat")] + gemm_chain(w, first="f")[0]
    pool = [helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[2, 2]),
            helper.make_node("Flatten", ["p"], ["f"], name="flat")] + gemm_chain(w, first="f")[0]
    square = {"shape": ["N", 1, 4, 4]}
    return [
        ("tanh", tanh, inits, {}, "node tanh_relu0 (Tanh) is not supported"),
        ("sigmoid", sig, inits, {}, "node sig1 (Sigmoid) is not supported"),
        ("batchnorm", bn, bn_inits, {}, "node bn (BatchNormalization) is not supported (fold batch-norm"),
        ("skip", skip, inits, {}, "node residual (Add) combines two activations"),
        ("branch", branch, inits, {}, "node gemm1 (Gemm) reads 'x', not the latest activation"),
        ("conv", conv, conv_inits, square, "node conv (Conv) is not supported"),
        ("maxpool", pool, inits, {"shape": ["N", 1, 4, 2]}, "node pool (MaxPool) is not supported"),
    ]


@pytest.mark.parametrize("case", unsupported_graphs(), ids=lambda c: c[0])
def test_onnx_unsupported_ops_are_named(tmp_path, case):
    label, nodes, inits, opts, fragment = case
    model = onnx_model(nodes, inits, 4, 2, in_shape=opts.get("shape"))
    with pytest.raises(ExactrevError) as e:
        roundtrip(tmp_path, model, f"{label}.onnx")
    assert str(tmp_path / f"{label}.onnx") in str(e.value) and fragment in str(e.value)


def test_onnx_shape_mismatch_names_the_node(tmp_path):
    layers = random_layers([4, 5, 2], np.float32)
    nodes, inits = gemm_chain(layers)
    inits["W1"] = np.ones((2, 6), np.float32)
    model = helper.make_model(helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        [numpy_helper.from_array(a, n) for n, a in inits.items()]))
    with pytest.raises(FormatError, match=r"node gemm1 \(Gemm\): takes 6 inputs but the activation before it has 5"):
        roundtrip(tmp_path, model)


def test_cli_reads_each_format_and_refuses_bad_onnx(tmp_path, capsys):
    layers = dyadic_layers([2, 3, 1], seed=4)
    save_npz(tmp_path / "d.npz", layers)
    onnx.save(onnx_model(*gemm_chain(layers), 2, 1, elem=TensorProto.DOUBLE), str(tmp_path / "d.onnx"))
    from safetensors.numpy import save_file
    save_file(state_dict(layers), str(tmp_path / "d.safetensors"))
    want = numpy_forward(layers, np.array([[0.5, -1.25]]))[0, 0]
    for name in ("d.npz", "d.onnx", "d.safetensors"):
        assert cli_main(["eval", str(tmp_path / name), "1/2,-5/4"]) == 0
        assert Fraction(capsys.readouterr().out.strip()) == Fraction(float(want))
        assert cli_main(["check", str(tmp_path / name)]) == 0
        assert "widths 2-3-1" in capsys.readouterr().out
    (tmp_path / "bad.onnx").write_bytes(b"\xff\xfe not a protobuf")
    assert cli_main(["check", str(tmp_path / "bad.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "bad.onnx") in err and "not a valid ONNX model" in err
    assert cli_main(["check", str(tmp_path / "missing.npz")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_in_a_fresh_process_reads_bfloat16_and_refuses_tanh(tmp_path):
    """A fresh interpreter (nothing imported by the tests): bfloat16 must still be readable."""
    import ml_dtypes
    from safetensors.numpy import save_file
    layers = [(w.astype(ml_dtypes.bfloat16), b.astype(ml_dtypes.bfloat16)) for w, b in random_layers([3, 4, 2])]
    save_file(state_dict(layers), str(tmp_path / "bf16.safetensors"))
    nodes, inits = gemm_chain(random_layers([4, 4, 2]))
    nodes[1] = helper.make_node("Tanh", ["z0"], ["h0"], name="act0")
    onnx.save(onnx_model(nodes, inits, 4, 2), str(tmp_path / "tanh.onnx"))
    ok = subprocess.run([sys.executable, "-m", "exactrev", "check", str(tmp_path / "bf16.safetensors")],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "widths 3-4-2" in ok.stdout, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "exactrev", "check", str(tmp_path / "tanh.onnx")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.count("\n") == 1
    assert "node act0 (Tanh) is not supported" in bad.stderr and str(tmp_path / "tanh.onnx") in bad.stderr


def test_a_missing_optional_package_names_the_extra():
    from exactrev.interop.arrays import require
    with pytest.raises(ExactrevError, match=r"reading m.onnx needs the no_such_pkg package: pip install 'exactrev\[interop\]'"):
        require("no_such_pkg", "reading m.onnx")


def test_read_onnx_of_an_empty_model_is_an_error(tmp_path):
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(FormatError, match="expected one of each"):
        read_onnx(tmp_path / "empty.onnx")


# -------------------------------------------------------------------- torch
def test_from_torch_and_back(tmp_path):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 5), nn.ReLU()),
                          nn.Identity(), nn.Linear(5, 2))
    net = exactrev.from_torch(model)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert_params_equal(net, [(m.weight.detach().numpy(), m.bias.detach().numpy()) for m in linears])
    xs = points(6, 32)
    with torch.no_grad():
        ys = model.double()(torch.tensor(xs)).numpy()  # float64 inference of the float32 weights
    assert_outputs_match(net, xs, ys, exact_ok=False, ulp=float(np.finfo(np.float64).eps))
    back = net.to_torch()
    assert exactrev.from_torch(back) == net
    with torch.no_grad():
        assert torch.equal(back(torch.tensor(xs)), model(torch.tensor(xs)))


def test_to_torch_float64_is_exact_on_dyadic_points():
    torch = pytest.importorskip("torch")
    net = exactrev.random_network([3, 7, 4, 2], seed=5, bits=12)
    xs = points(3, 32)
    with torch.no_grad():
        ys = net.to_torch()(torch.tensor(xs)).numpy()
    assert exactrev.from_torch(net.to_torch()) == net
    assert_outputs_match(net, xs, ys, exact_ok=False, ulp=float(np.finfo(np.float64).eps))
    assert net.to_torch(torch.float32)[0].weight.dtype == torch.float32


def test_from_torch_adjacent_linears_compose_exactly():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2), nn.ReLU(), nn.Linear(2, 1)).double()
    with torch.no_grad():
        for m, (w, b) in zip([model[0], model[1], model[3]], dyadic_layers([3, 4, 2, 1], seed=8)):
            m.weight.copy_(torch.tensor(w))
            m.bias.copy_(torch.tensor(b))
        xs = points(3, 32)
        ys = model(torch.tensor(xs)).numpy()
    net = exactrev.from_torch(model)
    assert net.widths == [3, 2, 1]
    assert_outputs_match(net, xs, ys, exact_ok=True, ulp=0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torch_onnx_export_imports_as_the_same_network(tmp_path):
    """A real torch.onnx.export file (legacy exporter: the default one needs onnxscript, not a dependency)."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 6), nn.ReLU(), nn.Linear(6, 3))
    path = tmp_path / "exported.onnx"
    torch.onnx.export(model, (torch.zeros(2, 5),), str(path), dynamo=False, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "N"}})
    net = load_target(path)
    assert net == exactrev.from_torch(model)
    xs = points(5, 32).astype(np.float32)
    assert_outputs_match(net, xs, run_ort(onnx.load(str(path)), xs), exact_ok=False,
                         ulp=float(np.finfo(np.float32).eps))


@pytest.mark.parametrize("bad, name", [("conv", "Conv2d"), ("tanh", "Tanh"), ("bn", "BatchNorm1d"),
                                       ("relu_first", "ReLU"), ("not_seq", None)])
def test_from_torch_unsupported_layers_are_named(bad, name):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    layers = {"conv": [nn.Conv2d(1, 2, 3)], "tanh": [nn.Linear(3, 3), nn.Tanh()],
              "bn": [nn.Linear(3, 3), nn.BatchNorm1d(3)], "relu_first": [nn.ReLU()], "not_seq": []}[bad]
    module = nn.Sequential(*layers, nn.Linear(3, 1)) if bad != "not_seq" else nn.Linear(3, 1)
    with pytest.raises(ExactrevError) as e:
        exactrev.from_torch(module)
    msg = str(e.value)
    assert (f"({name})" in msg) if name else "expected a torch.nn.Sequential" in msg


def test_pt_state_dict_loads_only_weights(tmp_path):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).to(torch.float16)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    net = load_target(tmp_path / "m.pt")
    assert_params_equal(net, [(m.weight.detach().double().numpy(), m.bias.detach().double().numpy())
                              for m in (model[0], model[2])])
    torch.save(model, tmp_path / "whole.pth")  # a pickled module: refused, never unpickled
    (tmp_path / "junk.pt").write_bytes(b"garbage, not a checkpoint")
    for name, gist in (("whole.pth", "Unsupported global: GLOBAL torch.nn.modules.container.Sequential"),
                       ("junk.pt", "not a state dict loadable with weights_only=True")):
        with pytest.raises(FormatError) as e:
            load_target(tmp_path / name)
        assert str(tmp_path / name) in str(e.value) and gist in str(e.value) and "=False" not in str(e.value)
    torch.save([model.state_dict()], tmp_path / "list.pt")
    with pytest.raises(FormatError, match="holds a list, expected a state dict"):
        load_target(tmp_path / "list.pt")


# ------------------------------------------------ any callable as an oracle
def numpy_served_oracle(path, *, budget: int | None = None) -> Oracle:
    """Example: a network reachable only through a function (here numpy inference of an .npz) as an Oracle.

    Extraction sees nothing but the function: `exactrev.extract(numpy_served_oracle("net.npz"))`.
    """
    with np.load(path, allow_pickle=False) as data:
        layers = [(data[f"W{k}"], data[f"b{k}"]) for k in range(len(data.files) // 2)]

    def serve(x: list[float]) -> list[float]:
        return numpy_forward(layers, np.array([x], dtype=np.float64))[0].tolist()

    return Oracle(serve, layers[0][0].shape[1], layers[-1][0].shape[0], arithmetic="float", budget=budget)


def test_numpy_served_function_as_a_float_oracle(tmp_path):
    layers = random_layers([3, 5, 2], np.float64, seed=13)
    save_npz(tmp_path / "served.npz", layers)
    orc = numpy_served_oracle(tmp_path / "served.npz", budget=40)
    net = read_npz(tmp_path / "served.npz")
    xs = points(3, 40)
    answers = orc.batch(xs.tolist())
    assert orc.queries == 40 and all(type(v) is float for row in answers for v in row)
    assert_outputs_match(net, xs, np.array(answers), exact_ok=False, ulp=float(np.finfo(np.float64).eps))
    with pytest.raises(exactrev.BudgetExceeded):
        orc([0.0, 0.0, 0.0])
