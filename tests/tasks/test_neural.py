"""neural_inference against an independent plain-Python reference of the documented rules."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgenet_app.tasks import neural
from edgenet_app.tasks.base import ExecContext, PayloadError
from edgenet_app.tasks.registry import get_kind

ROOT = Path(__file__).resolve().parents[2]
CTX = ExecContext(Path("."))


def reference(payload: dict[str, Any]) -> dict[str, Any]:
    """The module docstring's rules, one neuron and one step at a time, in plain Python."""
    layers = payload["layers"]
    rasters = payload["batch"] if "batch" in payload else [payload["inputs"]]
    steps = payload.get("steps", max(len(r) for r in rasters))
    n_in = len(layers[0]["weights"][0])
    out: dict[str, Any] = {"spike_counts": [], "first_spike": []}
    every: list[Any] = []
    for raster in rasters:
        v = [[0] * len(lay["weights"]) for lay in layers]
        r = [[0] * len(lay["weights"]) for lay in layers]
        counts = [[0] * len(lay["weights"]) for lay in layers]
        first = [-1] * len(layers[-1]["weights"])
        for t in range(steps):
            s = raster[t] if t < len(raster) else [0] * n_in
            for li, lay in enumerate(layers):
                spikes = []
                for j, row in enumerate(lay["weights"]):
                    current = 0
                    for i, w in enumerate(row):
                        if s[i]:
                            current += w
                    fired = 0
                    if r[li][j] == 0:
                        if lay["leak_shift"]:
                            v[li][j] -= v[li][j] >> lay["leak_shift"]
                        v[li][j] += current
                        if v[li][j] >= lay["threshold"]:
                            fired = 1
                            v[li][j] = lay["reset"]
                            r[li][j] = lay["refractory"]
                    else:
                        r[li][j] -= 1
                    counts[li][j] += fired
                    spikes.append(fired)
                s = spikes
            for j, fired in enumerate(s):
                if fired and first[j] < 0:
                    first[j] = t
        out["spike_counts"].append(counts[-1])
        out["first_spike"].append(first)
        every.append(counts)
    if payload.get("all_layers"):
        out["all_layers"] = every
    return out


def run(payload: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = neural.execute(neural.parse(payload), CTX)
    return result


def layer(
    weights: list[list[int]],
    threshold: int = 10,
    leak: int = 0,
    refractory: int = 0,
    reset: int = 0,
) -> dict[str, Any]:
    return {
        "weights": weights,
        "threshold": threshold,
        "leak_shift": leak,
        "refractory": refractory,
        "reset": reset,
    }


# --- hand-checked behaviour ---------------------------------------------------------------


def test_integrate_and_fire_without_leak() -> None:
    # one input spiking every step, weight 4, threshold 10: v = 4, 8, 12 → spike at t=2, v = 0 …
    p = {"layers": [layer([[4]])], "inputs": [[1]] * 9}
    assert run(p) == {"spike_counts": [[3]], "first_spike": [[2]]}


def test_leak_is_an_arithmetic_shift_before_integration() -> None:
    # k=1: v = 0+8=8, 8-4+8=12 ≥ 10 → spike at t=1
    assert run({"layers": [layer([[8]], leak=1)], "inputs": [[1], [1]]})["first_spike"] == [[1]]
    # a negative membrane leaks with floor rounding: -5 >> 1 = -3, so -5 → -2 (truncation: -3)
    p: dict[str, Any] = {
        "layers": [layer([[-5], [-5]], threshold=-2, leak=1)],
        "inputs": [[1], [0]],
    }
    assert run(p) == reference(p) == {"spike_counts": [[1, 1]], "first_spike": [[1, 1]]}
    p["layers"][0]["threshold"] = -1
    assert run(p)["first_spike"] == [[-1, -1]]


def test_refractory_freezes_the_neuron() -> None:
    # spikes every step without refractory; with 2 it ignores the 2 steps after each spike
    base: dict[str, Any] = {"layers": [layer([[20]])], "inputs": [[1]] * 9}
    assert run(base)["spike_counts"] == [[9]]
    base["layers"][0]["refractory"] = 2
    assert run(base)["spike_counts"] == [[3]]


def test_spikes_cross_all_layers_in_the_same_step_and_steps_extend_silence() -> None:
    p = {
        "layers": [layer([[10]]), layer([[10]]), layer([[10], [9]])],
        "inputs": [[0], [1]],
        "steps": 5,
        "all_layers": True,
    }
    r = run(p)
    assert r == reference(p)
    assert r["first_spike"] == [[1, -1]] and r["all_layers"] == [[[1], [1], [1, 0]]]


def test_small_example_and_batch() -> None:
    ex = neural.small_example()
    assert run(ex) == reference(ex)
    batch = {
        "layers": ex["layers"],
        "batch": [ex["inputs"], ex["inputs"][:2], [[1, 1, 1]]],
        "steps": 8,
    }
    r = run(batch)
    assert r == reference(batch) and r["spike_counts"][0] == run(ex)["spike_counts"][0]
    assert neural.size(neural.parse(batch)) == 3 and neural.size(neural.parse(ex)) == 1


def test_extreme_values_match_the_reference() -> None:
    big = [[32767] * 64, [-32768] * 64, [32767, -32768] * 32]
    p = {
        "layers": [
            layer(big, threshold=2**31 - 1, leak=0, refractory=100, reset=-(2**31)),
            layer([[1, -1, 1]], threshold=-(2**31), leak=15, reset=2**31 - 1),
        ],
        "inputs": [[1] * 64] * 1000,
    }
    assert run(p) == reference(p)


def test_results_are_plain_json_and_deterministic() -> None:
    ex = neural.small_example()
    r = run(ex)
    assert json.loads(json.dumps(r)) == r == run(copy.deepcopy(ex))
    assert all(type(x) is int for row in r["spike_counts"] + r["first_spike"] for x in row)


def test_kind_registry_and_example_file() -> None:
    kind = get_kind("neural_inference")
    payload = json.loads((ROOT / "examples" / "tasks" / "neural_inference.json").read_text())
    r = kind.execute(kind.parse(payload), CTX)
    assert r == reference(payload) and any(map(any, r["spike_counts"]))
    assert kind.verification.agree(r, kind.execute(kind.parse(payload), CTX))


# --- property: module == reference on random small networks -------------------------------


@st.composite
def networks(draw: st.DrawFn) -> dict[str, Any]:
    widths = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    wide = draw(st.booleans())
    wlo, whi = (-32768, 32767) if wide else (-8, 12)
    layers = []
    for n_in, n_out in itertools.pairwise(widths):
        w = draw(
            st.lists(
                st.lists(st.integers(wlo, whi), min_size=n_in, max_size=n_in),
                min_size=n_out,
                max_size=n_out,
            )
        )
        thr = draw(st.integers(-5, 40) if not wide else st.integers(-(2**31), 2**31 - 1))
        layers.append(
            layer(
                w,
                thr,
                draw(st.integers(0, 15)),
                draw(st.integers(0, 4)),
                draw(st.integers(-20, 20)),
            )
        )
    steps = draw(st.integers(1, 25))
    raster = st.lists(
        st.lists(st.integers(0, 1), min_size=widths[0], max_size=widths[0]),
        min_size=1,
        max_size=steps,
    )
    p: dict[str, Any] = {"layers": layers, "steps": steps, "all_layers": draw(st.booleans())}
    if draw(st.booleans()):
        p["inputs"] = draw(raster)
    else:
        p["batch"] = draw(st.lists(raster, min_size=1, max_size=3))
    return p


@settings(max_examples=200, deadline=None)
@given(networks())
def test_module_matches_reference(p: dict[str, Any]) -> None:
    assert run(p) == reference(p)


# --- bad payloads name the field ----------------------------------------------------------


def good() -> dict[str, Any]:
    return {
        "layers": [layer([[1, 2, 3], [4, 5, 6]]), layer([[1, 1]])],
        "inputs": [[1, 0, 1], [0, 1, 0]],
    }


def edit(path: str, value: Any) -> dict[str, Any]:
    p = good()
    *keys, last = path.split("/")
    node: Any = p
    for k in keys:
        node = node[int(k)] if k.isdigit() else node[k]
    if last.isdigit():
        node[int(last)] = value
    elif value is ...:
        del node[last]
    else:
        node[last] = value
    return p


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (edit("layers/0/weights/1", [4, 5]), "layers[0].weights[1]: must hold 3 values"),
        (edit("layers/0/weights/0", [1, 2.5, 3]), "layers[0].weights[0][1]: must be an integer"),
        (edit("layers/0/weights/0", [1, True, 3]), "layers[0].weights[0][1]: must be an integer"),
        (edit("layers/0/weights/0", [1, 40000, 3]), "layers[0].weights[0][1]: must be between"),
        (edit("layers/0/weights/0", [1, 2**70, 3]), "layers[0].weights[0][1]: must be between"),
        (edit("layers/0/weights", []), "layers[0].weights: must be a list of 1–1024"),
        (edit("layers/0/weights", [[]]), "layers[0].weights[0]: must hold 1–1024 values"),
        (edit("layers/0/weights", [5]), "layers[0].weights[0]: must be a list"),
        (edit("layers/1/weights", [[1, 1, 1]]), "layers[1].weights[0]: must hold 2 values"),
        (edit("layers/0/leak_shift", 16), "layers[0].leak_shift"),
        (edit("layers/0/refractory", 101), "layers[0].refractory"),
        (edit("layers/0/threshold", 2**31), "layers[0].threshold"),
        (edit("layers/0/reset", 0.5), "layers[0].reset"),
        (edit("layers/0/threshold", ...), "layers[0].threshold: missing"),
        (edit("layers/0/bias", 1), "layers[0]: unknown field"),
        (edit("layers", []), "neural_inference.layers: must hold 1–8"),
        (edit("layers", [layer([[1]])] * 9), "neural_inference.layers: must hold 1–8"),
        (
            edit("layers/0/weights", [[1, 1, 1]] * 1025),
            "layers[0].weights: must be a list of 1–1024",
        ),
        (edit("inputs/1", [0, 1]), "neural_inference.inputs[1]: must hold 3 values"),
        (edit("inputs/1", [0, 2, 0]), "neural_inference.inputs[1][1]: must be between 0 and 1"),
        (edit("inputs/1", [0, False, 0]), "neural_inference.inputs[1][1]: must be an integer"),
        (edit("inputs", []), "neural_inference.inputs: must be a list of 1–1000"),
        (edit("inputs", ...), "exactly one of 'inputs'"),
        (edit("batch", [[[1, 0, 1]]]), "exactly one of 'inputs'"),
        (edit("steps", 1), "neural_inference.steps: 1 is shorter"),
        (edit("steps", 1001), "neural_inference.steps"),
        (edit("all_layers", 1), "neural_inference.all_layers"),
        (edit("extra", 1), "unknown field"),
    ],
)
def test_bad_payloads_name_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as info:
        neural.parse(payload)
    assert field in str(info.value)


def test_batch_and_size_limits() -> None:
    p = good()
    del p["inputs"]
    p["batch"] = [[[1, 0, 1]]] * 65
    with pytest.raises(PayloadError, match=r"neural_inference\.batch: must hold 1–64"):
        neural.parse(p)
    p["batch"] = [[[1, 0, 1]], "no"]
    with pytest.raises(PayloadError, match=r"neural_inference\.batch\[1\]"):
        neural.parse(p)
    wide = {"layers": [layer([[0] * 1024] * 8)], "batch": [[[0] * 1024] * 1000] * 64}
    with pytest.raises(PayloadError, match=r"neural_inference\.batch: samples × steps"):
        neural.parse(wide)
    too_many = {"layers": [layer([[0] * 1024] * 1024), layer([[0] * 1024])], "inputs": [[0] * 1024]}
    with pytest.raises(PayloadError, match=r"neural_inference\.layers: 1,049,600 weights"):
        neural.parse(too_many)
