"""Warm start: the torch weights of a shipped ``transformer`` model directory, read back from its ONNX graph.

A shipped model keeps no torch checkpoint, only ``model.onnx`` (attention, layer norm and GELU
fused by onnxruntime's optimizer, large weights stored as float16). :func:`state_dict_from_onnx`
undoes the fusion: the packed ``Attention`` weights become the query, key and value layers again,
the ``MatMul`` weights (``x @ W``) become ``Linear`` weights (``W.T``), in node order per layer,
and everything is float32. The result loads into :func:`affectkit.train.multitask.build_model`
on the same base, so a new recipe can continue from the weights users already have (and a branch
that reads a lower layer, like the aspect model, keeps its input when those layers stay frozen).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.exceptions import ModelFormatError, require

__all__ = ["interpolate", "state_dict_from_onnx"]

_PREFIX = "inner."
_DENSE = ("attention.output.dense", "intermediate.dense", "output.dense")


def _arrays(model: Any) -> dict[str, np.ndarray]:
    numpy_helper = require("onnx", "train", "Reading ONNX weights").numpy_helper
    out = {}
    for init in model.graph.initializer:
        name = init.name[: -len("__fp16")] if init.name.endswith("__fp16") else init.name
        out[name] = numpy_helper.to_array(init).astype(np.float32) if init.data_type in (1, 10) else numpy_helper.to_array(init)
    return out


def state_dict_from_onnx(path: str | Path) -> dict[str, np.ndarray]:
    """``{parameter name: float32 array}`` of the two-head model behind ``path`` (a ``model.onnx``
    written by :func:`affectkit.train.export.export_onnx`, fused or not), named as in
    :func:`~affectkit.train.multitask.build_model`. Raises :class:`ModelFormatError` when the graph
    is not such a model."""
    onnx = require("onnx", "train", "Reading ONNX weights")
    model = onnx.load(str(path))
    arrays = _arrays(model)
    state: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        if name.startswith(_PREFIX) and value.dtype == np.float32:
            state[name[len(_PREFIX):]] = value
    layer_of = re.compile(r"/inner/encoder/encoder/layer\.(\d+)/")
    seen: dict[int, int] = {}
    for node in model.graph.node:
        if node.op_type == "Attention":
            layer = int(layer_of.search(node.output[0]).group(1)) if layer_of.search(node.output[0]) else None
            if layer is None:
                raise ModelFormatError(f"{path}: an Attention node ({node.name}) has no layer in its output name.")
            w, b = arrays[node.input[1]], arrays[node.input[2]]
            hidden = w.shape[0]
            for k, part in enumerate(("query", "key", "value")):
                state[f"encoder.encoder.layer.{layer}.attention.self.{part}.weight"] = w[:, k * hidden:(k + 1) * hidden].T.copy()
                state[f"encoder.encoder.layer.{layer}.attention.self.{part}.bias"] = b[k * hidden:(k + 1) * hidden].copy()
        elif node.op_type == "MatMul" and node.input[1] in arrays:
            match = layer_of.search(node.output[0])
            if match is None:
                continue
            layer = int(match.group(1))
            k = seen.get(layer, 0)
            seen[layer] = k + 1
            if k >= len(_DENSE):
                raise ModelFormatError(f"{path}: layer {layer} has more than {len(_DENSE)} weight MatMuls.")
            state[f"encoder.encoder.layer.{layer}.{_DENSE[k]}.weight"] = arrays[node.input[1]].T.copy()
    if not any(k.endswith("attention.self.query.weight") for k in state):
        # an unfused graph keeps its own names for q/k/v as MatMul weights; only fused graphs are read here
        raise ModelFormatError(f"{path}: no fused Attention nodes found; expected a graph written by export_onnx.")
    return state


def interpolate(start: dict[str, Any], end: dict[str, Any], alpha: float) -> dict[str, Any]:
    """The weights ``(1 - alpha) * start + alpha * end`` of two state dicts of one architecture.

    Interpolating a fine-tuned model with the model it started from (WiSE-FT, Wortsman et al. 2022)
    often keeps most of what the fine-tuning gained while giving back less of the start's strengths;
    ``alpha`` 0 is ``start``, 1 is ``end``. Tensors that are not floating point (counters, ids) are
    taken from ``end``."""
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"The 'alpha' parameter must be in [0, 1]. Got {alpha!r}.")
    if set(start) != set(end):
        missing = sorted(set(start) ^ set(end))[:5]
        raise ModelFormatError(f"interpolate: the two state dicts have different tensors (e.g. {missing}); "
                               "interpolate only weights of one architecture.")
    out = {}
    for name, b in end.items():
        a = start[name]
        if tuple(a.shape) != tuple(b.shape):
            raise ModelFormatError(f"interpolate: {name!r} has shape {tuple(a.shape)} in 'start' and "
                                   f"{tuple(b.shape)} in 'end'.")
        out[name] = (a * (1.0 - alpha) + b * alpha).to(b.dtype) if b.is_floating_point() else b.clone()
    return out
