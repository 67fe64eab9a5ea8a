"""`neural_inference`: the forward pass of a leaky integrate-and-fire (LIF) spiking network.

Payload
  layers: 1–8 objects, from the input side:
    weights     n_out × n_in integers in [−32768, 32767]; row i holds the synapses into neuron i.
                The first layer's n_in is the input width, a later layer's n_in is the previous
                layer's n_out. ≤ 1,024 neurons per layer, ≤ 1,048,576 weights in all.
    threshold   int32: a neuron spikes when its membrane v ≥ threshold
    leak_shift  0–15: 0 = no leak; k ≥ 1: v ← v − (v >> k) each step (arithmetic shift, which
                rounds toward −∞), a decay by about 1 − 2⁻ᵏ
    refractory  0–100: steps after a spike during which the neuron is frozen
    reset       int32: the membrane value right after a spike
  inputs: one spike raster — a list of time steps, each a list of n_in values 0 or 1 (the input
    neurons that spike at that step); or batch: 1–64 such rasters. Exactly one of the two.
  steps: 1–1000, default the longest raster; a raster shorter than `steps` is silent after its
    end. samples × longest raster × n_in ≤ 4,194,304.
  all_layers: default false; true also returns every layer's spike counts.

The simulation is integer arithmetic, identical on every machine. Every membrane v and every
refractory counter r starts at 0. For t = 0 … steps−1, for each layer in order, where s is the 0/1
vector of input spikes at step t (the raster row for the first layer; for the others, the spikes
the previous layer emitted at this same step — there is no synaptic delay):
  1. I = W·s (exact integer sums)
  2. every neuron with r = 0:  v ← v − (v >> k) if k ≥ 1   (leak)
                               v ← v + I                    (integrate)
                               if v ≥ threshold: spike, v ← reset, r ← refractory
  3. every neuron with r > 0 at the start of the step: r ← r − 1 (v stays as it is)
A neuron spiking at step t thus ignores steps t+1 … t+refractory. |I| ≤ 2²⁵ and there are at most
1,000 steps, so |v| < 2³⁷ and int64 never overflows. The products W·s are computed as float64
matrix products: every partial sum is an integer below 2⁵³, so they are exact in any order.

Result: {"spike_counts": per sample, the output layer's spike count per neuron;
"first_spike": per sample, the step of each output neuron's first spike or −1;
"all_layers" (if asked): per sample, per layer, the spike count per neuron}.
Verification is exact; the price is per sample (size = batch size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import EXACT, ExecContext, Json, PayloadError, TaskKind
from .payload import Fields

MAX_LAYERS = 8
MAX_NEURONS = 1024
MAX_WEIGHTS = 1 << 20
MAX_STEPS = 1000
MAX_BATCH = 64
MAX_CELLS = 1 << 22
INT32 = (-(2**31), 2**31 - 1)
INT16 = (-(2**15), 2**15 - 1)


@dataclass(frozen=True)
class Layer:
    weights: np.ndarray  # int64, (n_out, n_in)
    threshold: int
    leak_shift: int
    refractory: int
    reset: int


@dataclass(frozen=True)
class Payload:
    layers: tuple[Layer, ...]
    rasters: np.ndarray  # uint8, (longest raster, samples, n_in), zero-padded
    steps: int
    all_layers: bool


def parse(obj: Json) -> Payload:
    f = Fields(obj, "neural_inference")
    layers: list[Layer] = []
    width = 0
    for i, spec in enumerate(f.obj_list("layers", max_items=MAX_LAYERS)):
        lf = Fields(spec, f"{f.path('layers')}[{i}]")
        w = int_matrix(
            lf.raw("weights"),
            lf.path("weights"),
            INT16,
            MAX_NEURONS,
            width if i else None,
            MAX_NEURONS,
        )
        layers.append(
            Layer(
                w,
                lf.int("threshold", *INT32),
                lf.int("leak_shift", 0, 15),
                lf.int("refractory", 0, 100),
                lf.int("reset", *INT32),
            )
        )
        lf.done()
        width = w.shape[0]
    total = sum(layer.weights.size for layer in layers)
    if total > MAX_WEIGHTS:
        raise PayloadError(f"{f.path('layers')}: {total:,} weights in all, at most {MAX_WEIGHTS:,}")
    n_in = layers[0].weights.shape[1]
    single, batch = f.raw("inputs", required=False), f.raw("batch", required=False)
    if (single is None) == (batch is None):
        raise PayloadError(
            "neural_inference: give exactly one of 'inputs' (one spike raster) "
            "or 'batch' (a list of rasters)"
        )
    field = f.path("inputs" if single is not None else "batch")
    if single is not None:
        samples, where = [single], [field]
    else:
        samples = f.obj_list("batch", max_items=MAX_BATCH)
        where = [f"{f.path('batch')}[{b}]" for b in range(len(samples))]
    for raster, path in zip(samples, where, strict=True):
        if not isinstance(raster, list) or not 1 <= len(raster) <= MAX_STEPS:
            raise PayloadError(
                f"{path}: must be a list of 1–{MAX_STEPS} time steps, each a list "
                f"of {n_in} values 0/1"
            )
    longest = max(len(r) for r in samples)
    if len(samples) * longest * n_in > MAX_CELLS:
        raise PayloadError(f"{field}: samples × steps × inputs is over {MAX_CELLS:,}")
    rasters = np.zeros((longest, len(samples), n_in), dtype=np.uint8)
    for b, (raster, path) in enumerate(zip(samples, where, strict=True)):
        rasters[: len(raster), b] = int_matrix(raster, path, (0, 1), MAX_STEPS, n_in, n_in)
    steps = f.int("steps", 1, MAX_STEPS, default=longest)
    if steps < longest:
        raise PayloadError(
            f"{f.path('steps')}: {steps} is shorter than the longest raster ({longest} steps)"
        )
    p = Payload(tuple(layers), rasters, steps, f.bool("all_layers", default=False))
    f.done()
    return p


def int_matrix(
    v: Any, path: str, bounds: tuple[int, int], max_rows: int, cols: int | None, max_cols: int
) -> np.ndarray:
    """A non-empty list of equal-length lists of integers within `bounds` -> int64 array."""
    if not isinstance(v, list) or not 1 <= len(v) <= max_rows:
        raise PayloadError(f"{path}: must be a list of 1–{max_rows} lists of integers")
    want = cols if cols is not None else (len(v[0]) if isinstance(v[0], list) else -1)
    lo, hi = bounds
    for i, row in enumerate(v):
        if not isinstance(row, list):
            raise PayloadError(f"{path}[{i}]: must be a list of integers")
        if len(row) != want or not 1 <= len(row) <= max_cols:
            need = f"{want}" if 1 <= want <= max_cols else f"1–{max_cols}"
            raise PayloadError(f"{path}[{i}]: must hold {need} values, got {len(row)}")
        if set(map(type, row)) - {int}:
            j = next(j for j, x in enumerate(row) if type(x) is not int)
            raise PayloadError(f"{path}[{i}][{j}]: must be an integer, got {row[j]!r}")
    arr = np.array(v, dtype=object) if any(_huge(row) for row in v) else np.array(v, np.int64)
    bad = np.argwhere((arr < lo) | (arr > hi))
    if bad.size:
        i, j = (int(x) for x in bad[0])
        raise PayloadError(f"{path}[{i}][{j}]: must be between {lo} and {hi}, got {v[i][j]}")
    return arr.astype(np.int64)


def _huge(row: list[int]) -> bool:
    return bool(row) and (max(row) > 2**62 or min(row) < -(2**62))


def simulate(p: Payload) -> tuple[list[np.ndarray], np.ndarray]:
    """Spike counts per layer, (samples, n) each, and the output layer's first spike steps."""
    samples = p.rasters.shape[1]
    weights_t = [layer.weights.T.astype(np.float64) for layer in p.layers]
    v = [np.zeros((samples, lay.weights.shape[0]), np.int64) for lay in p.layers]
    r = [np.zeros_like(x) for x in v]
    counts = [np.zeros_like(x) for x in v]
    first = np.full_like(v[-1], -1)
    for t in range(p.steps):
        s = p.rasters[t] if t < p.rasters.shape[0] else np.zeros(p.rasters.shape[1:], np.uint8)
        for i, layer in enumerate(p.layers):
            current = (s.astype(np.float64) @ weights_t[i]).astype(np.int64) if s.any() else 0
            active = r[i] == 0
            mem = v[i] - (v[i] >> layer.leak_shift) if layer.leak_shift else v[i]
            mem = mem + current
            spike = active & (mem >= layer.threshold)
            v[i] = np.where(active, np.where(spike, layer.reset, mem), v[i])
            r[i] = np.where(active, np.where(spike, layer.refractory, 0), r[i] - 1)
            counts[i] += spike
            s = spike.astype(np.uint8)
        first[(first < 0) & (s == 1)] = t
    return counts, first


def execute(p: Payload, ctx: ExecContext) -> Json:
    counts, first = simulate(p)
    out: dict[str, Json] = {"spike_counts": counts[-1].tolist(), "first_spike": first.tolist()}
    if p.all_layers:
        out["all_layers"] = [[c[b].tolist() for c in counts] for b in range(first.shape[0])]
    return out


def size(p: Payload) -> int:
    return int(p.rasters.shape[1])


def small_example() -> Json:
    return {
        "layers": [
            {
                "weights": [[6, 6, 0], [0, 6, -3], [4, 4, 4]],
                "threshold": 10,
                "leak_shift": 1,
                "refractory": 1,
                "reset": 0,
            },
            {
                "weights": [[8, 8, 0], [0, 6, 6]],
                "threshold": 8,
                "leak_shift": 2,
                "refractory": 0,
                "reset": -2,
            },
        ],
        "inputs": [[1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1], [0, 0, 0], [1, 0, 0]],
        "steps": 8,
    }


KIND = TaskKind(
    name="neural_inference",
    summary="forward pass of a leaky integrate-and-fire spiking network, integer arithmetic",
    payload_schema={
        "layers": {
            "type": "list",
            "required": True,
            "rule": "1–8 of {weights: n_out×n_in int16, threshold: int32, leak_shift: "
            "0–15 (0 = none), refractory: 0–100, reset: int32}; ≤ 1,024 neurons "
            "per layer, ≤ 1,048,576 weights",
        },
        "inputs": {
            "type": "list",
            "required": False,
            "rule": "one raster: per time step, n_in values 0/1; or use batch",
        },
        "batch": {"type": "list", "required": False, "rule": "1–64 rasters like inputs"},
        "steps": {
            "type": "integer",
            "required": False,
            "rule": "1–1000, default the longest raster",
        },
        "all_layers": {
            "type": "boolean",
            "required": False,
            "rule": "also return every layer's spike counts",
        },
    },
    result_schema={
        "spike_counts": {"type": "list", "rule": "per sample, spikes per output neuron"},
        "first_spike": {
            "type": "list",
            "rule": "per sample, first spike step per output neuron, −1 if none",
        },
        "all_layers": {"type": "list", "rule": "if asked: per sample, per layer, spike counts"},
    },
    verification=EXACT,
    parse=parse,
    size=size,
    execute=execute,
    small_example=small_example,
)

__all__ = ["KIND", "Layer", "Payload", "execute", "int_matrix", "parse", "simulate", "size"]
