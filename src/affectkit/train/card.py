"""The model card of a trained model directory: ``README.md``, its facts also in ``config.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["write_model_card"]


def write_model_card(
    path: str | Path,
    *,
    title: str,
    data: str,
    metrics: dict[str, Any],
    command: str | None,
    licence: str = "Apache-2.0 (code); see the data's own terms for the weights",
    extra: str = "",
) -> Path:
    """Write ``README.md`` (the model card) and record the card's facts in ``config.json``."""
    path = Path(path)
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    card = {"title": title, "data": data, "metrics": metrics, "command": command, "licence": licence}
    config["card"] = card
    (path / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    lines = [
        f"# {title}",
        "",
        f"- affectkit version: {config.get('affectkit_version')}; format version {config.get('format_version')}",
        f"- analyzer: `{config.get('analyzer')}`; task: `{config.get('task')}`; multi-label: {config.get('multi_label')}",
        f"- labels: {', '.join(config.get('labels', []))}",
        f"- parameters: `{json.dumps(config.get('params', {}), sort_keys=True)}`",
        f"- training data: {data}",
        f"- licence: {licence}",
        f"- size on disk: {size / 1e6:.1f} MB",
        "",
        "## Metrics",
        "",
    ]
    if metrics:
        for split, values in metrics.items():
            if isinstance(values, dict):
                lines.append(f"- {split}: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items()))
            else:
                lines.append(f"- {split}: {values}")
    else:
        lines.append("- none recorded")
    if command:
        lines += ["", "## Reproduce", "", "```", command, "```"]
    if extra:
        lines += ["", extra.strip()]
    (path / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path / "README.md"
