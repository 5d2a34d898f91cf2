"""Export any Hugging Face sequence-classification model to an affectkit ONNX model directory.

``export_hf("hf:cardiffnlp/twitter-roberta-base-sentiment-latest", "out/")`` writes
``out/config.json``, ``out/model.onnx`` and ``out/tokenizer.json``; ``affectkit.load("out/")``
then serves it with :class:`~affectkit.analyzers.transformer.TransformerAnalyzer` (onnxruntime and
tokenizers only, no torch), with the labels, task, long-text splitting and thresholds of the
:class:`~affectkit.analyzers.hf.HFAnalyzer` it came from.

The graph takes ``input_ids`` and ``attention_mask`` and returns ``logits`` with columns in the
analyzer's label order. Models that also take ``token_type_ids`` get zeros inside the graph, and
padded positions are set to the model's padding id there (the runner pads with 0), so a padded
batch scores as the model would score it. The exported config sets ``"normalize": false``: the
text reaches the model's tokenizer as it is, without affectkit's tweet normalisation.
"""

from __future__ import annotations

import inspect
import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.exceptions import InvalidInputError, ModelFormatError, require
from affectkit.params import Interval, Options, validate_params

logger = logging.getLogger(__name__)

__all__ = ["export_hf"]

MODEL_FILE = "model.onnx"
OUTPUT_NAME = "logits"
_FEATURE = "ONNX export of Hugging Face models"
_CONSTRAINTS: dict[str, list[object]] = {"storage": [Options(("fp32", "fp16"))], "opset": [Interval(int, 14, None)]}

# Texts the export is checked on (onnxruntime against torch): short, padded and long ones.
_CHECK_TEXTS = (
    "I love this so much!",
    "This is the worst service I have ever had.",
    "The meeting is at 3pm on Tuesday.",
    "",
    "Not bad. " * 40 + "But the ending was a letdown, honestly.",
)


def _as_analyzer(model: Any) -> Any:
    from affectkit.analyzers.hf import HFAnalyzer, load_hf

    if isinstance(model, HFAnalyzer):
        return model
    if isinstance(model, str | Path):
        source = str(model)
        if not source.startswith("hf:") and not Path(source).expanduser().is_dir():
            raise InvalidInputError(
                f"The 'model' parameter of export_hf must be 'hf:<Hub id or directory>' or an existing directory. "
                f"Got {source!r}; for a Hub model write 'hf:{source}'."
            )
        analyzer = load_hf(source[len("hf:"):] if source.startswith("hf:") else source)
        if isinstance(analyzer, HFAnalyzer):
            return analyzer
        got = type(analyzer).__name__
    else:
        got = type(model).__name__
    raise InvalidInputError(
        f"The 'model' parameter of export_hf must be a Hugging Face model: 'hf:<id or directory>', a directory "
        f"saved by HFAnalyzer.save, or an HFAnalyzer. Got {got}."
    )


def _trace(torch: Any, hf: Any, path: Path, opset: int) -> None:
    """Trace the model to ONNX: (input_ids, attention_mask) -> logits in our column order."""
    inner = hf.model
    takes_types = "token_type_ids" in inspect.signature(inner.forward).parameters

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = inner
            self.register_buffer("order", torch.as_tensor(hf.order, dtype=torch.long), persistent=False)

        def forward(self, input_ids, attention_mask):
            ids = torch.where(attention_mask > 0, input_ids, torch.full_like(input_ids, hf.pad_id))
            extra = {"token_type_ids": torch.zeros_like(ids)} if takes_types else {}
            logits = self.inner(input_ids=ids, attention_mask=attention_mask, **extra).logits
            return logits.index_select(1, self.order)

    wrapper = Wrapper().to("cpu").eval()
    # a padded dummy batch, so no code path that skips the mask when nothing is padded is traced
    ids = torch.full((2, 16), 5, dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    mask[1, 10:] = 0
    from affectkit.train.export import torch_to_onnx

    with torch.no_grad():
        torch_to_onnx(torch, wrapper, (ids, mask), str(path), input_names=("input_ids", "attention_mask"),
                      output_names=(OUTPUT_NAME,), opset=opset)


def export_hf(
    model: Any,
    out_dir: str | Path,
    *,
    opset: int = 17,
    storage: str = "fp32",
    check: bool = True,
    atol: float | None = None,
) -> Path:
    """Write ``model`` (``"hf:<id or dir>"``, a saved ``hf`` directory or an :class:`HFAnalyzer`) as an
    affectkit ONNX model directory that ``affectkit.load(out_dir)`` opens.

    ``storage="fp16"`` halves the file (weights stored as float16, run in float32; scores then agree
    to about 1e-3 rather than 1e-5). ``check`` scores a few texts (short, empty, long) with torch and
    with onnxruntime and raises :class:`ModelFormatError` if a probability differs by more than
    ``atol`` (default 1e-4 for fp32, 5e-3 for fp16); the largest difference is stored in the config
    as ``export_check``.
    """
    validate_params("export_hf", {"storage": storage, "opset": opset}, _CONSTRAINTS)
    torch = require("torch", "train", _FEATURE)
    require("onnx", "train", _FEATURE)
    analyzer = _as_analyzer(model)
    hf = analyzer._hf()
    if not getattr(hf.tokenizer, "is_fast", False):
        raise InvalidInputError(
            f"{analyzer.model!r} has only a slow (Python) tokenizer ({type(hf.tokenizer).__name__}); the ONNX runner "
            f"needs a fast one (tokenizer.json). Convert it with transformers (AutoTokenizer.from_pretrained(..., "
            f"use_fast=True)) and save_pretrained it next to the model, or keep using affectkit.load('hf:...')."
        )
    if hf.device != "cpu":
        analyzer = type(analyzer)(**{**analyzer.get_params(), "device": "cpu"})
        hf = analyzer._hf()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="affectkit-export-") as tmp:
        raw = Path(tmp) / "model.fp32.onnx"
        _trace(torch, hf, raw, opset)
        if storage == "fp16":
            from affectkit.train.export import compact_fp16

            compact_fp16(raw, out / MODEL_FILE)
        else:
            shutil.copyfile(raw, out / MODEL_FILE)
    hf.tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    config = _config(analyzer, hf, storage)
    _write(out, config)
    if check:
        config["export_check"] = _check(analyzer, out, atol if atol is not None else (1e-4 if storage == "fp32" else 5e-3))
        _write(out, config)
    logger.info("exported %s to %s (%s, labels %s)", analyzer.model, out, hf.task, list(hf.labels))
    return out


def _config(analyzer: Any, hf: Any, storage: str) -> dict[str, Any]:
    from affectkit.train.export import transformer_config

    labels = list(hf.labels)
    thresholds = analyzer._thresholds().tolist() if hf.multi_label else None
    return transformer_config(
        {hf.task: {"output": OUTPUT_NAME, "labels": labels, "multi_label": hf.multi_label, "thresholds": thresholds}},
        max_length=hf.max_length, storage=storage, batch_size=analyzer.batch_size,
        base_model=str(getattr(hf.model.config, "_name_or_path", "") or analyzer.model),
        normalize=False,  # the model's own tokenizer sees the text as it is
        source_model=str(analyzer.model),
    )


def _write(out: Path, config: dict[str, Any]) -> None:
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _check(analyzer: Any, out: Path, atol: float) -> dict[str, Any]:
    """Score the check texts with torch and with the export; raise if they disagree."""
    from affectkit.registry import load_dir

    texts = list(_CHECK_TEXTS)
    want = analyzer.predict_proba(texts)
    got = load_dir(out).predict_proba(texts)
    diff = float(np.abs(want - got).max())
    same = bool((want.argmax(1) == got.argmax(1)).all())
    if diff > atol:
        raise ModelFormatError(
            f"The ONNX export of {analyzer.model!r} in {out} disagrees with the torch model by {diff:.2g} "
            f"(more than atol={atol:g}) on a few check texts. Try another opset, or report the model."
        )
    return {"texts": len(texts), "max_abs_diff": diff, "same_top_label": same}
