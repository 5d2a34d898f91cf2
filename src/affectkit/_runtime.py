"""Small numerical and onnxruntime helpers shared by the analyzers (numpy only at import)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.exceptions import require

__all__ = ["softmax", "sigmoid", "available_cores", "onnx_session", "peak_rss_mb", "reset_peak_rss", "peak_rss_mb"]


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
