"""Small numerical and onnxruntime helpers shared by the analyzers (numpy only at import)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.exceptions import require

__all__ = ["softmax", "sigmoid", "available_cores", "onnx_session", "onnx_embedding_rows", "peak_rss_mb", "reset_peak_rss"]


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax over the last axis, shifted for stability."""
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, stable for large ``|z|``."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def onnx_session(model: str | Path | bytes, threads: int, *, spin: bool = True, optimize: bool = False,
                 extra: str = "serve", feature: str = "The ONNX models") -> Any:
    """A CPU onnxruntime session with ``threads`` intra-op threads and one inter-op thread.

    ``spin=False`` lets idle threads sleep instead of busy-waiting for the next call (for
    servers, where spinning threads take the cores their other threads need).
    """
    ort = require("onnxruntime", extra, feature)
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    if optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])


def reset_peak_rss() -> bool:
    """Reset this process's peak resident memory (Linux: ``/proc/self/clear_refs``); whether it could."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float | None:
    """The peak resident memory of this process so far, in MB (MiB); ``None`` where it cannot be read.

    Reads ``VmHWM`` from ``/proc/self/status`` (Linux; ``/proc/self/clear_refs`` can reset it), else
    ``getrusage``'s ``ru_maxrss`` (kB on Linux).
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # pragma: no cover - not Unix
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# -- reading an ONNX file's embedding table, without the onnx package ------------------------------
def _varint(buf: Any, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise ValueError("malformed varint")


def _fields(buf: Any, start: int, end: int) -> Any:
    """``(field number, wire type, value)`` of a protobuf message: a varint's value, or the
    ``(start, end)`` of a length-delimited field (fixed-size fields are skipped)."""
    i = start
    while i < end:
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            yield field, wire, value
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > end:
                raise ValueError("truncated field")
            yield field, wire, (i, i + n)
            i += n
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _graph_of(buf: Any) -> tuple[list[tuple[str, list[str], list[str]]], dict[str, list[int]]]:
    """The nodes ``(op_type, inputs, outputs)`` and the initializers' dims of an ONNX ModelProto's graph."""
    def text(span: tuple[int, int]) -> str:
        return bytes(buf[span[0]:span[1]]).decode("utf-8", "replace")

    nodes: list[tuple[str, list[str], list[str]]] = []
    dims: dict[str, list[int]] = {}
    for field, wire, graph in _fields(buf, 0, len(buf)):
        if field != 7 or wire != 2:  # ModelProto.graph
            continue
        for gfield, gwire, span in _fields(buf, *graph):
            if gwire != 2:
                continue
            if gfield == 1:  # GraphProto.node: NodeProto input=1, output=2, op_type=4
                ins, outs, op = [], [], ""
                for nfield, nwire, value in _fields(buf, *span):
                    if nwire != 2:
                        continue
                    if nfield == 1:
                        ins.append(text(value))
                    elif nfield == 2:
                        outs.append(text(value))
                    elif nfield == 4:
                        op = text(value)
                nodes.append((op, ins, outs))
            elif gfield == 5:  # GraphProto.initializer: TensorProto dims=1 (packed or not), name=8
                shape, name = [], ""
                for tfield, twire, value in _fields(buf, *span):
                    if tfield == 1 and twire == 0:
                        shape.append(value)
                    elif tfield == 1 and twire == 2:
                        j = value[0]
                        while j < value[1]:
                            d, j = _varint(buf, j)
                            shape.append(d)
                    elif tfield == 8 and twire == 2:
                        name = text(value)
                dims[name] = shape
    return nodes, dims


def onnx_embedding_rows(model: str | Path | bytes, input_name: str = "input_ids") -> int | None:
    """The number of rows of the embedding table that the token ids ``input_name`` index in an ONNX
    model (its largest valid id + 1), read from the file without the onnx package or a session.

    Follows ``input_name`` through casts and reshapes to a ``Gather`` (or onnxruntime's fused
    ``EmbedLayerNormalization``) and its table back through casts and dequantisation to an initializer.
    ``None`` when the graph does not show it that way (the caller then checks nothing).
    """
    import mmap

    try:
        if isinstance(model, bytes | bytearray):
            return _embedding_rows(memoryview(model), input_name)
        with open(model, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _embedding_rows(buf, input_name)
    except (OSError, ValueError, IndexError):
        return None


_PASS_THROUGH = ("Cast", "Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten")


def _embedding_rows(buf: Any, input_name: str) -> int | None:
    nodes, dims = _graph_of(buf)
    producer = {out: (op, ins) for op, ins, outs in nodes for out in outs}

    def rows(table: str) -> int | None:
        for _ in range(8):  # back through casts / dequantisation to the stored table
            if table in dims:
                shape = dims[table]
                return int(shape[0]) if len(shape) == 2 else None
            op, ins = producer.get(table, ("", []))
            if op not in ("Cast", "Identity", "DequantizeLinear") or not ins:
                return None
            table = ins[0]
        return None

    ids, seen = [input_name], {input_name}
    while ids:
        name = ids.pop()
        for op, ins, outs in nodes:
            if name not in ins:
                continue
            if op == "Gather" and len(ins) >= 2 and ins[1] == name:
                return rows(ins[0])
            if op == "EmbedLayerNormalization" and len(ins) >= 3 and ins[0] == name:
                return rows(ins[2])
            if op in _PASS_THROUGH and ins[0] == name and outs and outs[0] not in seen:
                seen.add(outs[0])
                ids.append(outs[0])
    return None
