"""Learn the late fusion of the speech and text branches on held-out RAVDESS actors.

    python scripts/fit_fusion.py --data ../shared/data [--model src/affectkit/models/speech-emotion-v1]

On the validation actors (17-20, never seen by the acoustic model), each clip gets the
acoustic branch's 7-class probabilities and the text branch's, on a transcript made by the
packaged Whisper tiny.en (so the whole path is exercised; RAVDESS's sentences are neutral).
Then:

- ``weighted``: the audio weight ``w`` in ``w * p_audio + (1 - w) * p_text`` that maximises
  the log-likelihood, on a grid of 0.00..1.00;
- ``stacking``: a multinomial logistic regression on ``[p_audio, p_text]``;
- ``evidence`` (the default mode): the text's weight grows with the emotion its transcript
  carries, ``w_text = l e / (l e + 1 - l)`` with ``e = 1 - p_text(neutral)``. RAVDESS's text
  is neutral, so ``l`` is fitted on the clips twice: with their transcripts, and each paired
  with a GoEmotions dev comment of the clip's emotion (both branches carry signal there).

Both are scored by leave-one-actor-out over the 4 actors (fit on 3, test on the 4th), and
fitted on all 4 for shipping: the ``fusion`` entry of the model's config.json.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from affectkit.audio import EMOTIONS7
from affectkit.audio.analyzer import SpeechEmotionAnalyzer, TextEmotionBranch, transcribe

TO7 = {"neutral": "neutral", "calm": "neutral", "happy": "joy", "sad": "sadness", "angry": "anger",
       "fearful": "fear", "disgust": "disgust", "surprised": "surprise"}
VAL_ACTORS = (17, 18, 19, 20)
GRID = np.round(np.linspace(0, 1, 101), 2)


def _nll(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-9, 1)).mean())


def _best_weight(pa: np.ndarray, pt: np.ndarray, y: np.ndarray) -> float:
    losses = [_nll(w * pa + (1 - w) * pt, y) for w in GRID]
    return float(GRID[int(np.argmin(losses))])


def _evidence_fuse(pa: np.ndarray, pt: np.ndarray, lam: float) -> np.ndarray:
    e = np.clip(1.0 - pt[:, EMOTIONS7.index("neutral")], 0.0, 1.0)
    denom = lam * e + (1.0 - lam)
    t = np.where(denom > 0, lam * e / np.maximum(denom, 1e-12), 0.0)[:, None]
    return (1.0 - t) * pa + t * pt


def _best_lambda(pa: np.ndarray, pt: np.ndarray, y: np.ndarray) -> float:
    losses = [_nll(_evidence_fuse(pa, pt, lam), y) for lam in GRID]
    return float(GRID[int(np.argmin(losses))])


def _paired_texts(data: Path, y: np.ndarray, seed: int) -> list[str]:
    """For each 7-class label in ``y``, a GoEmotions dev comment whose labels map to that one class."""
    root = data / "goemotions"
    names = (root / "emotions.txt").read_text(encoding="utf-8").split()
    ekman = json.loads((root / "ekman_mapping.json").read_text(encoding="utf-8"))
    to7 = {fine: coarse for coarse, fines in ekman.items() for fine in fines} | {"neutral": "neutral"}
    pools: dict[int, list[str]] = {i: [] for i in range(len(EMOTIONS7))}
    with (root / "dev.tsv").open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2:
                continue
            classes = {to7.get(names[int(i)]) for i in parts[1].split(",")}
            if len(classes) == 1 and None not in classes:
                pools[EMOTIONS7.index(classes.pop())].append(parts[0])
    rng = np.random.default_rng(seed)
    return [pools[int(c)][int(rng.integers(len(pools[int(c)])))] for c in y]


def _stack(pa: np.ndarray, pt: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=2000).fit(np.hstack([pa, pt]), y)


def _scores(name: str, pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    out = {"accuracy": round(float(accuracy_score(y, pred)), 4),
           "macro_f1": round(float(f1_score(y, pred, average="macro")), 4)}
    print(f"{name:<34} acc {out['accuracy']:.4f}  macro-F1 {out['macro_f1']:.4f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--model", type=Path, default=Path("src/affectkit/models/speech-emotion-v1"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/affectkit-fusion-cache.json"))
    args = ap.parse_args()
    root = args.data / "ravdess-speech"
    with (root / "labels.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if int(r["actor"]) in VAL_ACTORS]
    speech = SpeechEmotionAnalyzer(str(args.model))
    text = TextEmotionBranch("emotion")
    cache = json.loads(args.cache.read_text()) if args.cache.is_file() else {}
    pa, transcripts = [], []
    for i, r in enumerate(rows):
        path = root / r["path"]
        key = "audio:" + r["path"]
        if key not in cache:
            cache[key] = speech.score(path)[0].tolist()
        pa.append(cache[key])
        if r["path"] not in cache:
            cache[r["path"]] = transcribe(path)[0]
        transcripts.append(cache[r["path"]])
        if (i + 1) % 40 == 0:
            print(f"{i + 1}/{len(rows)} clips", flush=True)
            args.cache.write_text(json.dumps(cache))
    args.cache.write_text(json.dumps(cache))
    pa = np.asarray(pa)
    pt = text.predict_proba(transcripts)
    y = np.asarray([EMOTIONS7.index(TO7[r["emotion"]]) for r in rows])
    actors = np.asarray([int(r["actor"]) for r in rows])
    print(f"{len(rows)} clips of actors {VAL_ACTORS}; transcripts e.g. {sorted(set(transcripts))[:3]}")

    report: dict[str, dict[str, float]] = {}
    report["audio only"] = _scores("audio only", pa.argmax(1), y)
    report["text only"] = _scores("text only (ASR transcript)", pt.argmax(1), y)
    report["equal weights (0.5/0.5)"] = _scores("equal weights 0.5/0.5", (0.5 * pa + 0.5 * pt).argmax(1), y)
    fused, stacked, chosen = np.zeros_like(pa), np.zeros_like(pa), []
    for a in VAL_ACTORS:  # leave one actor out: fit on 3, score the 4th
        fit, test = actors != a, actors == a
        w = _best_weight(pa[fit], pt[fit], y[fit])
        chosen.append(w)
        fused[test] = w * pa[test] + (1 - w) * pt[test]
        clf = _stack(pa[fit], pt[fit], y[fit])
        probs = np.zeros((int(test.sum()), len(EMOTIONS7)))
        probs[:, clf.classes_] = clf.predict_proba(np.hstack([pa[test], pt[test]]))
        stacked[test] = probs
    report["weighted (leave-one-actor-out)"] = _scores(f"weighted, LOAO (w_audio {chosen})", fused.argmax(1), y)
    report["stacking (leave-one-actor-out)"] = _scores("stacking, LOAO", stacked.argmax(1), y)

    # -- evidence-gated fusion, fitted where both branches carry signal ---------------------------
    # The real clips (neutral text) plus a paired set: each clip with a GoEmotions dev text of the
    # clip's own emotion (one Ekman class, or neutral), so the text carries signal there.
    pt_pair = text.predict_proba(_paired_texts(args.data, y, seed=0))
    print(f"\npaired set: {len(y)} clips, each with a GoEmotions dev text of the same 7-class emotion")
    both_pa, both_pt = np.vstack([pa, pa]), np.vstack([pt, pt_pair])
    both_y, both_actor = np.concatenate([y, y]), np.concatenate([actors, actors])
    which = np.repeat(["real", "paired"], len(y))
    evid = np.zeros_like(both_pa)
    lams = []
    for a in VAL_ACTORS:
        fit, test = both_actor != a, both_actor == a
        lam = _best_lambda(both_pa[fit], both_pt[fit], both_y[fit])
        lams.append(lam)
        evid[test] = _evidence_fuse(both_pa[test], both_pt[test], lam)
    w_loao = np.zeros_like(both_pa)
    for a in VAL_ACTORS:
        fit, test = both_actor != a, both_actor == a
        w = _best_weight(both_pa[fit], both_pt[fit], both_y[fit])
        w_loao[test] = w * both_pa[test] + (1 - w) * both_pt[test]
    evidence_report: dict[str, dict[str, dict[str, float]]] = {}
    for name in ("real", "paired"):
        m = which == name
        print(f"-- {name} set (leave-one-actor-out over both sets)")
        yy = both_y[m]
        evidence_report[name] = {
            "audio only": _scores("audio only", both_pa[m].argmax(1), yy),
            "text only": _scores("text only", both_pt[m].argmax(1), yy),
            "equal weights (0.5/0.5)": _scores("equal weights", (0.5 * both_pa[m] + 0.5 * both_pt[m]).argmax(1), yy),
            "fixed weights learned on RAVDESS alone (audio 1.0)": _scores("old fixed (audio 1.0)", both_pa[m].argmax(1), yy),
            "fixed weights learned on both": _scores("fixed, learned on both", w_loao[m].argmax(1), yy),
            "evidence-gated (shipped)": _scores(f"evidence-gated (lambda {lams})", evid[m].argmax(1), yy),
        }
    lam_all = _best_lambda(both_pa, both_pt, both_y)

    w = _best_weight(pa, pt, y)
    clf = _stack(pa, pt, y)
    fusion = {
        "evidence": {"text_weight": lam_all,
                     "rule": "w_text = l*e / (l*e + 1 - l), e = 1 - p_text(neutral), l = text_weight",
                     "fitted_on": f"RAVDESS actors {VAL_ACTORS[0]}-{VAL_ACTORS[-1]} ({len(rows)} clips) twice: with their "
                                  "Whisper transcripts, and each with a GoEmotions dev text of the clip's emotion",
                     "validation": evidence_report},
        "weights": {"audio": w, "text": round(1 - w, 2)},
        "stacking": {"classes": [EMOTIONS7[c] for c in clf.classes_], "coef": clf.coef_.round(6).tolist(),
                     "intercept": clf.intercept_.round(6).tolist(), "inputs": "audio 7 probs, then text 7 probs"},
        "fitted_on": f"RAVDESS actors {VAL_ACTORS[0]}-{VAL_ACTORS[-1]} ({len(rows)} clips), "
                     "text from Whisper tiny.en transcripts",
        "validation": report,
    }
    cfg_path = args.model / "config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["fusion"] = fusion
    cfg_path.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    print(f"fusion weights (all 4 actors): audio {w:.2f}, text {1 - w:.2f}; written to {cfg_path}")


if __name__ == "__main__":
    main()
