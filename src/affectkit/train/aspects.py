"""Train the aspect model: a branch of our encoder with aspect heads (``affectkit train --arch aspect``).

The aspect model shares the shipped default's encoder. Its first ``shared_layers`` layers stay
frozen and are computed once per text for every head (sentence sentiment, emotion and aspects);
the aspect branch is a fine-tuned copy of the layers above them, so the sentence heads keep
their weights and their scores exactly (0 points lost), and the aspects cost only the branch's
layers on top of the pass that sentiment already makes. On the branch sit three heads:

* **terms**: BIO tags over word pieces (``O``, ``B``, ``I``), mapped back to character spans
  and widened to whole words;
* **polarity** of a term: the mean of the term's token states (the *aspect vector*) attends over
  the sentence's token states (the *context*), weighted by their distance to the term (ASGCN's
  position weights: 1 at the term, falling linearly); ``[aspect; context]`` goes through a small
  MLP to negative / neutral / positive (trained with label smoothing 0.1). ``conflict`` terms (both polarities) are kept as terms for
  extraction and left out of polarity training and scoring, as the SemEval papers do;
* **categories**: one learned query per category attends over the tokens; per category one
  presence logit (sigmoid) and three polarity logits. Categories are SemEval-2014's five
  restaurant categories and SemEval-2016's twelve ``ENTITY#ATTRIBUTE`` restaurant categories.

``arch="aspect-gnn"`` adds graph layers between the branch and the polarity head (the
*PLM + GNN* variant, after ASGCN, Zhang et al. 2019): two residual GCN layers over the
sentence graph whose soft adjacency is the branch's own last-layer self-attention (mean over
heads, symmetrised, with self-loops, row-normalised), as in attention-guided GCNs (Guo et al.
2019). The aspect vector is read from the graph layers' output, the context from the branch.
No dependency parser ships in a package that works here (the only PyPI copy of spaCy's
``en_core_web_sm`` is the 2019 v2.2.5 release, which spaCy 3.8 cannot load), so the graph comes
from the encoder's attention, which also keeps the whole model inside one ONNX graph.

``arch="aspect-marked"`` tells the branch which term it is asked about (the *marked-aspect
input* of the plain variant): a learned vector is added to the term's token states before the
branch layers, and the branch reads the sentence once more per term for its polarity (tags and
categories come from the unmarked pass). It costs one more branch pass per term, not per sentence.

Training data (``data``: the shared data folder): SemEval-2014 Task 4 restaurants and laptops train files
(terms, term polarity, 2014 categories) and the SemEval-2016 Task 5 restaurants SB1 train file
(targets, ``E#A`` categories); a validation split of ``val_fraction`` of each 2014 file, cut by
sentence with a fixed seed; 2016 sentences whose text is in a validation split are dropped.
The tagger learns from the 2014 files only: SemEval-2016 marks opinion targets, 2014 every aspect
term, neutral mentions included; the 2016 sentences train the polarity and category heads.
The frozen layers' outputs are computed once before training, so an epoch runs only the branch.
Needs ``pip install 'affectkit[train]'``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.aspects.tags import (
    CATEGORIES,
    CATEGORIES_2014,
    CATEGORIES_2016,
    POLARITIES,
    TAGS,
    decode_tags,
    term_tokens,
    token_tags,
)
from affectkit.exceptions import InvalidInputError, require

logger = logging.getLogger(__name__)

__all__ = ["AspectTrainConfig", "AspectSentence", "read_semeval", "default_sentences", "train_aspects",
           "average_checkpoints", "evaluate_checkpoint", "train_aspect_model",
           "TAGS", "POLARITIES", "CATEGORIES_2014", "CATEGORIES_2016"]

ARCHS = ("aspect", "aspect-gnn", "aspect-marked")


@dataclass
class AspectSentence:
    """One sentence: its terms ``(start, end, polarity)`` and category polarities ``{category: polarity}``."""

    text: str
    terms: list[tuple[int, int, str]]
    categories: dict[str, str] = field(default_factory=dict)
    category_set: str = ""  # "2014", "2016" or "" (no category labels)
    domain: str = ""
    tag: bool = True  # whether the tagger learns from this sentence's terms


def read_semeval(path: str | Path, domain: str = "") -> list[AspectSentence]:
    """The sentences of a SemEval-2014 Task 4 or SemEval-2016 Task 5 (SB1) XML file
    (:func:`affectkit.datasets.read_absa_xml`) as training rows."""
    from affectkit.datasets import read_absa_xml

    return [AspectSentence(r.text, [(s, e, pol) for _, s, e, pol in r.aspects], r.categories, r.category_set, domain)
            for r in read_absa_xml(path)]


def split_by_sentence(rows: list[AspectSentence], fraction: float, seed: int) -> tuple[list, list]:
    """(train, val): ``fraction`` of the sentences, drawn with ``seed``, for validation
    (:func:`affectkit.datasets.absa_split`, so ``semeval2014-absa:restaurants-val`` is this split)."""
    from affectkit.datasets import absa_split

    val = absa_split(len(rows), fraction, seed)
    return [r for r, v in zip(rows, val, strict=True) if not v], [r for r, v in zip(rows, val, strict=True) if v]


def default_sentences(data: str | Path, val_fraction: float = 0.1, seed: int = 0,
                      ) -> tuple[list[AspectSentence], dict[str, list[AspectSentence]]]:
    """The shipped recipe's data: train sentences and the validation splits by domain."""
    root = Path(data)
    files = {
        "restaurants": root / "semeval2014-absa" / "Restaurants_Train_v2.xml",
        "laptops": root / "semeval2014-absa" / "Laptop_Train_v2.xml",
    }
    train: list[AspectSentence] = []
    vals: dict[str, list[AspectSentence]] = {}
    for domain, path in files.items():
        if not path.is_file():
            raise InvalidInputError(f"The aspect training data {path} was not found; pass --data with ../shared/data.")
        tr, va = split_by_sentence(read_semeval(path, domain), val_fraction, seed)
        train += tr
        vals[domain] = va
    extra = root / "semeval2016-absa" / "ABSA16_Restaurants_Train_SB1_v2.xml"
    if extra.is_file():
        held = {r.text.strip() for rows in vals.values() for r in rows}
        # SemEval-2016 marks opinion targets, 2014 every aspect term (neutral mentions too): the tagger
        # learns 2014's convention only; the 2016 sentences train the polarity and category heads
        for r in read_semeval(extra, "restaurants"):
            if r.text.strip() not in held:
                r.tag = False
                train.append(r)
    return train, vals


@dataclass
class AspectTrainConfig:
    out: str
    data: str = "../shared/data"
    arch: str = "aspect"
    trunk: str | None = None  # a transformer model directory; default: the shipped default
    shared_layers: int = 1
    epochs: int = 12
    batch_size: int = 16
    lr: float = 8e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.1
    dropout: float = 0.1
    category_weight: float = 0.5
    gcn_layers: int = 2
    val_fraction: float = 0.1
    seed: int = 0
    run: int = 0  # runs of one recipe: the same split and initial weights, another batch order and dropout
    max_length: int = 128
    threads: int | None = None
    limit: int | None = None


@dataclass
class _Encoded:
    ids: list[list[int]]
    offsets: list[list[tuple[int, int]]]
    special: list[list[int]]
    tags: list[np.ndarray]
    aspects: list[tuple[int, list[int], int]]  # (sentence, token positions, polarity id)
    cats: np.ndarray  # [n, C] -1 unknown, 0 absent, 1 neg, 2 neu, 3 pos, 4 conflict


def encode(tok: Any, rows: list[AspectSentence], max_length: int) -> _Encoded:
    encs = tok.encode_batch([r.text for r in rows])
    ids, offs, specs, tags, aspects = [], [], [], [], []
    cats = np.full((len(rows), len(CATEGORIES)), -1, dtype=np.int64)
    for i, (r, e) in enumerate(zip(rows, encs, strict=True)):
        n = min(len(e.ids), max_length)
        idx = list(e.ids[:n])
        off = [tuple(o) for o in e.offsets[:n]]
        sp = list(e.special_tokens_mask[:n])
        if n < len(e.ids):  # keep [SEP] last
            idx[-1], off[-1], sp[-1] = e.ids[-1], (0, 0), 1
        ids.append(idx)
        offs.append(off)
        specs.append(sp)
        tag = token_tags(off, sp, r.terms, r.text)
        tags.append(tag if r.tag else np.full_like(tag, -100))
        for s, end, pol in r.terms:
            if pol in POLARITIES:
                toks = term_tokens(off, sp, s, end)
                if toks:
                    aspects.append((i, toks, POLARITIES.index(pol)))
        names = CATEGORIES_2014 if r.category_set == "2014" else CATEGORIES_2016 if r.category_set == "2016" else ()
        for name in names:
            j = CATEGORIES.index(name)
            pol = r.categories.get(name)
            cats[i, j] = 0 if pol is None else (POLARITIES.index(pol) + 1 if pol in POLARITIES else 4)
    return _Encoded(ids, offs, specs, tags, aspects, cats)


# -- the model -----------------------------------------------------------------------------------------
def build_branch(trunk_model: Any, shared_layers: int, arch: str, dropout: float, gcn_layers: int) -> Any:
    """The aspect branch: copies of the trunk's layers above ``shared_layers`` and the heads."""
    import copy

    torch = require("torch", "train", "Training the aspect model")
    nn = torch.nn
    layers = trunk_model.encoder.encoder.layer
    hidden = trunk_model.encoder.config.hidden_size
    n_heads = trunk_model.encoder.config.num_attention_heads

    class AspectBranch(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([copy.deepcopy(layers[k]) for k in range(shared_layers, len(layers))])
            self.dropout = nn.Dropout(dropout)
            self.tagger = nn.Linear(hidden, len(TAGS))
            self.gnn = arch == "aspect-gnn"
            # aspect-marked: a learned vector added to the term's token states before the branch, so the
            # branch encodes the sentence once per term, knowing which term it is asked about
            self.marked = arch == "aspect-marked"
            self.marker = nn.Parameter(torch.randn(hidden) * 0.02) if self.marked else None
            self.gcn = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(gcn_layers if self.gnn else 0)])
            self.cat_query = nn.Parameter(torch.randn(len(CATEGORIES), hidden) * 0.02)
            self.cat_out = nn.Linear(hidden, 4)
            # polarity head (run in numpy at inference): query projection and a 2-layer MLP
            self.pol_query = nn.Linear(hidden, hidden, bias=False)
            self.pol_hidden = nn.Linear(2 * hidden, hidden)
            self.pol_out = nn.Linear(hidden, len(POLARITIES))

        def graph(self, h_in, mask):
            """Soft adjacency from the last branch layer's self-attention (mean over heads)."""
            att = self.layers[-1].attention.self
            b, t, _ = h_in.shape
            q = att.query(h_in).view(b, t, n_heads, -1).transpose(1, 2)
            k = att.key(h_in).view(b, t, n_heads, -1).transpose(1, 2)
            scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
            scores = scores + (1.0 - mask[:, None, None, :]) * -1e4
            p = scores.softmax(-1).mean(1)  # [b, t, t]
            eye = torch.eye(t, dtype=p.dtype)[None]
            a = (p + p.transpose(1, 2)) / 2 + eye
            a = a * mask[:, None, :] * mask[:, :, None]
            return a / a.sum(-1, keepdim=True).clamp(min=1e-6)

        def forward(self, hidden_in, attention_mask, aspect_mask=None):
            mask = attention_mask.to(hidden_in.dtype)
            if aspect_mask is not None and self.marker is not None:
                hidden_in = hidden_in + aspect_mask.to(hidden_in.dtype)[..., None] * self.marker
            ext = (1.0 - mask[:, None, None, :]) * -1e4
            h = hidden_in
            last_in = h
            for layer in self.layers:
                last_in = h
                h = layer(h, attention_mask=ext)
                if isinstance(h, tuple):
                    h = h[0]
            states = h
            if self.gnn:
                a = self.graph(last_in, mask)
                g = h
                for lin in self.gcn:
                    g = g + torch.relu(a @ lin(self.dropout(g)))
                states = g
            tags = self.tagger(self.dropout(h))
            # categories: one query per category over the tokens
            sc = torch.einsum("ch,bth->bct", self.cat_query, h) / math.sqrt(hidden)
            sc = sc + (1.0 - mask[:, None, :]) * -1e4
            ctx = sc.softmax(-1) @ h  # [b, C, hidden]
            cats = self.cat_out(self.dropout(ctx))
            return tags, h, states, cats

        def polarity(self, context, states, mask, sent_idx, span_mask):
            """Polarity logits of aspects: ``span_mask`` [A, T] over the tokens of sentence ``sent_idx``."""
            s = states[sent_idx]  # [A, T, H]
            c = context[sent_idx]
            m = mask[sent_idx].to(c.dtype)
            sm = span_mask.to(c.dtype)
            a = (s * sm[..., None]).sum(1) / sm.sum(1, keepdim=True).clamp(min=1.0)
            # position weights (ASGCN): 1 at the aspect, falling linearly with the distance in tokens
            t = torch.arange(c.shape[1], dtype=c.dtype)[None]
            first = torch.where(sm > 0, t, torch.full_like(t, 1e9)).amin(1, keepdim=True)
            last = torch.where(sm > 0, t, torch.full_like(t, -1.0)).amax(1, keepdim=True)
            dist = torch.relu(first - t) + torch.relu(t - last)
            c = c * (torch.clamp(1.0 - dist / m.sum(1, keepdim=True).clamp(min=1.0), min=0.0) * m)[..., None]
            q = self.pol_query(a)
            sc = (c @ q[..., None]).squeeze(-1) / math.sqrt(c.shape[-1]) + (1.0 - m) * -1e4
            r = (sc.softmax(-1)[..., None] * c).sum(1)
            x = self.dropout(torch.cat([a, r], -1))
            return self.pol_out(torch.tanh(self.pol_hidden(x)))

    return AspectBranch()


# -- training ------------------------------------------------------------------------------------------
def _trunk_states(torch: Any, trunk_model: Any, ids: list[list[int]], shared_layers: int,
                  batch_size: int = 64) -> list[np.ndarray]:
    """The frozen layers' output for each sequence (float32, [len, hidden])."""
    from affectkit.train.batches import collate

    enc = trunk_model.encoder
    out: list[np.ndarray] = [np.zeros(0)] * len(ids)
    order = np.argsort([len(s) for s in ids], kind="stable")
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            x, m = collate(torch, [ids[i] for i in rows])
            h = enc.embeddings(input_ids=x)
            ext = (1.0 - m[:, None, None, :].float()) * -1e4
            for layer in enc.encoder.layer[:shared_layers]:
                h = layer(h, attention_mask=ext)
                if isinstance(h, tuple):
                    h = h[0]
            for k, i in enumerate(rows):
                out[i] = h[k, : len(ids[i])].numpy().copy()
    return out


def _tokenizer() -> Any:
    """The default encoder's word-piece tokenizer, without padding or truncation (``encode`` cuts)."""
    from affectkit.train.multitask import default_base

    tok = require("tokenizers", "train", "Training the aspect model").Tokenizer.from_file(
        str(Path(default_base()) / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


def _by_sentence(enc: _Encoded) -> dict[int, list[int]]:
    """Sentence index -> the indices of its polar terms in ``enc.aspects``."""
    out: dict[int, list[int]] = {}
    for a, (i, _, _) in enumerate(enc.aspects):
        out.setdefault(i, []).append(a)
    return out


def _batch(torch: Any, enc: _Encoded, states: list[np.ndarray], rows: np.ndarray, aspect_rows: dict[int, list[int]]):
    width = max(len(enc.ids[i]) for i in rows)
    hidden = states[rows[0]].shape[1]
    h = np.zeros((len(rows), width, hidden), dtype=np.float32)
    m = np.zeros((len(rows), width), dtype=np.float32)
    tags = np.full((len(rows), width), -100, dtype=np.int64)
    sent, spans, pols = [], [], []
    for k, i in enumerate(rows):
        n = len(enc.ids[i])
        h[k, :n], m[k, :n], tags[k, :n] = states[i], 1.0, enc.tags[i]
        for a in aspect_rows.get(int(i), ()):
            _, toks, pol = enc.aspects[a]
            row = np.zeros(width, dtype=np.float32)
            row[toks] = 1.0
            sent.append(k)
            spans.append(row)
            pols.append(pol)
    t = torch.from_numpy
    asp = (t(np.array(sent, dtype=np.int64)), t(np.array(spans, dtype=np.float32).reshape(len(sent), width)),
           t(np.array(pols, dtype=np.int64)))
    return t(h), t(m), t(tags), asp, t(enc.cats[rows])


def _polarity_logits(torch: Any, model: Any, h: Any, m: Any, context: Any, states: Any, sent: Any, spans: Any) -> Any:
    """Polarity logits of the aspects ``spans`` of sentences ``sent``: from the sentence pass, or (marked
    branch) from one more pass per aspect with the aspect's tokens marked."""
    if getattr(model, "marked", False):
        rows_m = m[sent]
        _, context, states, _ = model(h[sent], rows_m, spans)
        return model.polarity(context, states, rows_m, torch.arange(len(sent)), spans)
    return model.polarity(context, states, m, sent, spans)


def _losses(torch: Any, model: Any, batch: Any, category_weight: float):
    F = torch.nn.functional
    h, m, tags, (sent, spans, pols), cats = batch
    tag_logits, context, states, cat_logits = model(h, m)
    loss = tag_logits.sum() * 0.0
    if (tags != -100).any():  # a batch of untagged sentences only has no tag loss (not NaN)
        loss = loss + F.cross_entropy(tag_logits.reshape(-1, len(TAGS)), tags.reshape(-1), ignore_index=-100)
    if len(pols):
        loss = loss + F.cross_entropy(_polarity_logits(torch, model, h, m, context, states, sent, spans), pols,
                                      label_smoothing=0.1)
    known = cats >= 0
    if known.any():
        present = (cats > 0).float()
        loss = loss + category_weight * F.binary_cross_entropy_with_logits(cat_logits[..., 0][known], present[known])
        polar = (cats >= 1) & (cats <= 3)
        if polar.any():
            loss = loss + category_weight * F.cross_entropy(cat_logits[..., 1:][polar], cats[polar] - 1)
    return loss


def evaluate(torch: Any, model: Any, enc: _Encoded, states: list[np.ndarray], rows: list[AspectSentence],
             batch_size: int = 64) -> dict[str, Any]:
    """Extraction P/R/F1 (exact spans), polarity accuracy / macro-F1 on gold terms, category F1 and accuracy."""
    from affectkit.metrics import score_single

    model.eval()
    by_sent = _by_sentence(enc)
    tp = fp = fn = 0
    y_true, y_pred = [], []
    c_tp = c_fp = c_fn = 0
    c_true, c_pred = [], []
    with torch.inference_mode():
        order = np.arange(len(rows))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = _batch(torch, enc, states, idx, by_sent)
            h, m, _, (sent, spans, pols), cats = batch
            tag_logits, context, st, cat_logits = model(h, m)
            tag_ids = tag_logits.argmax(-1).numpy()
            for k, i in enumerate(idx):
                pred = set(decode_tags(tag_ids[k], enc.offsets[i], enc.special[i], rows[i].text))
                gold = {(s, e) for s, e, _ in rows[i].terms}
                tp += len(pred & gold)
                fp += len(pred - gold)
                fn += len(gold - pred)
            if len(pols):
                y_pred += _polarity_logits(torch, model, h, m, context, st, sent, spans).argmax(-1).tolist()
                y_true += pols.tolist()
            cl = cat_logits.numpy()
            cv = cats.numpy()
            for k in range(len(idx)):
                for j in range(len(CATEGORIES)):
                    if cv[k, j] < 0:
                        continue
                    gold_c, pred_c = cv[k, j] > 0, cl[k, j, 0] > 0
                    c_tp += gold_c and pred_c
                    c_fp += pred_c and not gold_c
                    c_fn += gold_c and not pred_c
                    if 1 <= cv[k, j] <= 3:
                        c_true.append(int(cv[k, j]) - 1)
                        c_pred.append(int(cl[k, j, 1:].argmax()))
    p = tp / max(tp + fp, 1)
    r = tp / max(tp + fn, 1)
    yt, yp = np.array(y_true), np.array(y_pred)
    out: dict[str, Any] = {
        "extraction": {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-9), "gold": tp + fn},
        "polarity": {"accuracy": float((yt == yp).mean()) if len(yt) else float("nan"),
                     "macro_f1": score_single(yt, yp, range(len(POLARITIES)))["macro_f1"] if len(yt) else float("nan"),
                     "n": len(yt)},
    }
    if c_tp + c_fn:
        cp, cr = c_tp / max(c_tp + c_fp, 1), c_tp / max(c_tp + c_fn, 1)
        ct, cq = np.array(c_true), np.array(c_pred)
        out["categories"] = {"f1": 2 * cp * cr / max(cp + cr, 1e-9), "polarity_accuracy": float((ct == cq).mean()) if len(ct) else float("nan")}
    return out


def train_aspects(cfg: AspectTrainConfig, rows: tuple[list[AspectSentence], dict[str, list[AspectSentence]]] | None = None
                  ) -> dict[str, Any]:
    """Train the aspect branch for ``cfg.epochs`` epochs; writes the last epoch's weights (``last.pt``) and
    ``history.json`` (the validation numbers of every epoch, for reading: nothing is selected on them)
    under ``cfg.out``."""
    torch = require("torch", "train", "Training the aspect model")
    if cfg.arch not in ARCHS:
        raise InvalidInputError(f"The 'arch' parameter must be one of {list(ARCHS)}. Got {cfg.arch!r}.")
    from affectkit.train.batches import length_batches
    from affectkit.train.finetune import default_torch_model
    from affectkit.train.loop import warmup_schedule

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    train_rows, vals = rows if rows is not None else default_sentences(cfg.data, cfg.val_fraction, cfg.seed)
    if cfg.limit:
        train_rows = train_rows[: cfg.limit]
        vals = {k: v[: max(cfg.limit // 5, 10)] for k, v in vals.items()}
    tok = _tokenizer()
    trunk = default_torch_model(cfg.trunk, attn_implementation="eager")
    if not 0 <= cfg.shared_layers < trunk.encoder.config.num_hidden_layers:
        raise InvalidInputError(f"The 'shared_layers' parameter must be below the encoder's "
                                f"{trunk.encoder.config.num_hidden_layers} layers. Got {cfg.shared_layers}.")
    t0 = time.perf_counter()
    enc = encode(tok, train_rows, cfg.max_length)
    states = _trunk_states(torch, trunk, enc.ids, cfg.shared_layers)
    val_data = {}
    for name, vr in vals.items():
        ve = encode(tok, vr, cfg.max_length)
        val_data[name] = (ve, _trunk_states(torch, trunk, ve.ids, cfg.shared_layers), vr)
    logger.info("trunk states for %d train and %d val sentences in %.0f s", len(enc.ids),
                sum(len(v) for v in vals.values()), time.perf_counter() - t0)
    model = build_branch(trunk, cfg.shared_layers, cfg.arch, cfg.dropout, cfg.gcn_layers)
    del trunk
    if cfg.run:  # same initial weights (drawn from ``seed``), another batch order and dropout
        torch.manual_seed(cfg.seed + cfg.run)
    opt = torch.optim.AdamW(_groups(model, cfg))
    by_sent = _by_sentence(enc)
    rng = np.random.default_rng(cfg.seed + cfg.run)
    steps_per_epoch = math.ceil(len(enc.ids) / cfg.batch_size)
    sched = warmup_schedule(opt, steps_per_epoch * cfg.epochs, cfg.warmup)
    lengths = np.array([len(s) for s in enc.ids])
    history: list[dict[str, Any]] = []
    for epoch in range(cfg.epochs):
        model.train()
        t1 = time.perf_counter()
        total = 0.0
        for rows_ in length_batches(lengths, cfg.batch_size, rng):
            loss = _losses(torch, model, _batch(torch, enc, states, rows_, by_sent), cfg.category_weight)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total += loss.item()
        record: dict[str, Any] = {"epoch": epoch + 1, "loss": total / steps_per_epoch,
                                  "seconds": round(time.perf_counter() - t1, 1)}
        for name, (ve, vs, vr) in val_data.items():
            record[name] = evaluate(torch, model, ve, vs, vr)
        history.append(record)
        logger.info("epoch %d: %s", epoch + 1, json.dumps(record))
        torch.save(model.state_dict(), out / "last.pt")
    summary = {"config": asdict(cfg), "history": history,
               "train_sentences": len(enc.ids), "train_aspects": len(enc.aspects)}
    (out / "history.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _groups(model: Any, cfg: AspectTrainConfig) -> list[dict[str, Any]]:
    enc_decay, enc_nodecay, head = [], [], []
    for name, p in model.named_parameters():
        if not name.startswith("layers."):
            head.append(p)
        elif p.ndim == 1 or "LayerNorm" in name:
            enc_nodecay.append(p)
        else:
            enc_decay.append(p)
    return [
        {"params": enc_decay, "lr": cfg.lr, "weight_decay": cfg.weight_decay},
        {"params": enc_nodecay, "lr": cfg.lr, "weight_decay": 0.0},
        {"params": head, "lr": cfg.head_lr, "weight_decay": cfg.weight_decay},
    ]


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Train affectkit's aspect model (see the module docstring).")
    for f in AspectTrainConfig.__dataclass_fields__.values():
        default = f.default
        kind = type(default) if default is not None and not isinstance(default, bool) else str
        if f.name == "out":
            parser.add_argument("--out", required=True)
        elif f.name in ("threads", "limit"):
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=int, default=None)
        else:
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=default)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train_aspects(AspectTrainConfig(**vars(args)))


if __name__ == "__main__":
    main()


# -- export --------------------------------------------------------------------------------------------
STATES_OUTPUT = "hidden_{k}"


def layer_output_name(layer: int) -> str:
    """The tensor that holds layer ``layer``'s output (0-based) in our fused transformer graphs."""
    return f"/inner/encoder/encoder/layer.{layer}/output/LayerNorm/LayerNormalization_output_0"


def add_states_output(model_file: str | Path, shared_layers: int) -> str:
    """Expose the output of the first ``shared_layers`` layers of a transformer model as a graph output
    ``hidden_<k>`` (an Identity node; no weight changes). Returns the output's name."""
    onnx = require("onnx", "train", "Editing an ONNX graph")
    from onnx import TensorProto, helper

    model = onnx.load(str(model_file))
    graph = model.graph
    name = STATES_OUTPUT.format(k=shared_layers)
    if any(o.name == name for o in graph.output):
        return name
    source = layer_output_name(shared_layers - 1)
    if not any(source in n.output for n in graph.node):
        raise InvalidInputError(f"{model_file} has no tensor {source!r}; export it with affectkit's transformer export.")
    graph.node.append(helper.make_node("Identity", [source], [name], name=f"{name}_identity"))
    graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", "seq", "hidden"]))
    onnx.save(model, str(model_file))
    return name


def export_aspects(checkpoint: str | Path, out_dir: str | Path, *, arch: str, shared_layers: int,
                   trunk: str = "affect-transformer-v1", trunk_dir: str | Path | None = None,
                   gcn_layers: int = 2, storage: str = "fp16", card: dict[str, Any] | None = None) -> Path:
    """Write an aspect model directory: ``aspects.onnx`` (the branch: hidden states and mask in; tag
    logits, context states, aspect states and category logits out), ``polarity.npz`` (the polarity
    head, run in numpy) and ``config.json`` naming the trunk and its states output."""
    torch = require("torch", "train", "Exporting the aspect model")
    import shutil

    from affectkit.train.export import compact_fp16, torch_to_onnx
    from affectkit.train.finetune import default_torch_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    trunk_model = default_torch_model(trunk_dir, attn_implementation="eager")
    model = build_branch(trunk_model, shared_layers, arch, 0.0, gcn_layers)
    model.load_state_dict(torch.load(str(checkpoint), map_location="cpu", weights_only=True))
    model.eval()
    hidden = trunk_model.encoder.config.hidden_size

    class Graph(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, hidden_states, attention_mask, aspect_mask=None):
            tags, context, states, cats = self.inner(hidden_states, attention_mask.to(hidden_states.dtype),
                                                     aspect_mask)
            return tags, context, states, cats

    raw = out / "aspects.fp32.onnx"
    h = torch.randn(2, 16, hidden)
    m = torch.ones((2, 16), dtype=torch.long)
    outputs = ("tag_logits", "context", "states", "category_logits")
    inputs: tuple[Any, ...] = (h, m)
    names: tuple[str, ...] = ("hidden_states", "attention_mask")
    if getattr(model, "marked", False):  # the marked branch takes the aspect's tokens as a third input
        a = torch.zeros((2, 16), dtype=torch.float32)
        a[:, 3:5] = 1.0
        inputs, names = (h, m, a), (*names, "aspect_mask")
    torch_to_onnx(torch, Graph(model), inputs, str(raw), input_names=names, output_names=outputs)
    if storage == "fp16":
        compact_fp16(raw, out / "aspects.onnx")
        raw.unlink()
    else:
        shutil.move(raw, out / "aspects.onnx")
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items() if k.startswith("pol_")}
    np.savez(out / "polarity.npz", **{k.replace(".", "__"): v for k, v in sd.items()})
    config = {
        "format": "affectkit-aspects", "format_version": 1, "arch": arch,
        "trunk": trunk, "trunk_output": STATES_OUTPUT.format(k=shared_layers), "shared_layers": shared_layers,
        "tags": list(TAGS), "polarities": list(POLARITIES),
        "categories": {"semeval2014": list(CATEGORIES_2014), "semeval2016": list(CATEGORIES_2016)},
        "graph": "last branch layer's self-attention, mean over heads, symmetrised, self-loops" if arch == "aspect-gnn" else None,
        "marked": arch == "aspect-marked",
        "card": card or {},
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return out


def average_checkpoints(paths: list[str | Path], out: str | Path) -> Path:
    """Write the uniform average of the weights in ``paths`` (a "model soup", Wortsman et al., 2022).

    Meant for runs of one recipe (:attr:`AspectTrainConfig.run`): they start from the same weights,
    heads included, so their weights stay close enough for the average to be a better model
    than each run rather than a broken one."""
    torch = require("torch", "train", "Averaging checkpoints")
    if not paths:
        raise InvalidInputError("average_checkpoints needs at least one checkpoint; got none.")
    states = [torch.load(str(p), map_location="cpu", weights_only=True) for p in paths]
    keys = set(states[0])
    for p, st in zip(paths[1:], states[1:], strict=True):
        if set(st) != keys:
            raise InvalidInputError(f"{p} does not hold the same weights as {paths[0]}: average runs of one recipe.")
    soup = {k: (sum(st[k].double() for st in states) / len(states)).to(states[0][k].dtype)
            if states[0][k].is_floating_point() else states[0][k] for k in states[0]}
    torch.save(soup, str(out))
    return Path(out)


def evaluate_checkpoint(checkpoint: str | Path, vals: dict[str, list[AspectSentence]], *, arch: str = "aspect",
                        shared_layers: int = 1, gcn_layers: int = 2, trunk: str | None = None,
                        max_length: int = 128) -> dict[str, Any]:
    """:func:`evaluate` a saved branch on each named list of sentences."""
    torch = require("torch", "train", "Evaluating the aspect model")
    from affectkit.train.finetune import default_torch_model

    tok = _tokenizer()
    trunk_model = default_torch_model(trunk, attn_implementation="eager")
    model = build_branch(trunk_model, shared_layers, arch, 0.0, gcn_layers)
    model.load_state_dict(torch.load(str(checkpoint), map_location="cpu", weights_only=True))
    out = {}
    for name, rows in vals.items():
        enc = encode(tok, rows, max_length)
        out[name] = evaluate(torch, model, enc, _trunk_states(torch, trunk_model, enc.ids, shared_layers), rows)
    return out


def train_aspect_model(data: str | Path, out_dir: str | Path, *, arch: str = "aspect", val: str | Path | None = None,
                       val_fraction: float = 0.1, epochs: int = 12, lr: float = 8e-5, seed: int = 0, runs: int = 1,
                       shared_layers: int = 1, threads: int | None = None, work_dir: str | Path | None = None,
                       log: Any = None) -> dict[str, Any]:
    """Train an aspect model and write its directory (``affectkit train --arch aspect|aspect-gnn|aspect-marked``).

    ``data`` is a SemEval-2014 Task 4 or SemEval-2016 Task 5 (SB1) XML file, or the shared data
    directory (the shipped recipe: both 2014 train files and the 2016 restaurants file, validated
    on ``semeval2014-absa:restaurants-val`` and ``:laptops-val``). ``val``: a validation XML
    file; without it ``val_fraction`` of the sentences (seed ``seed``) are held out. Each run
    keeps its last epoch (the learning rate decays to zero; no selection on validation); with
    ``runs`` > 1 the runs differ in batch order and dropout only and the model is the average of
    their weights (:func:`average_checkpoints`).
    """
    import shutil
    import tempfile

    say = log or (lambda m: None)
    if arch not in ARCHS:
        raise InvalidInputError(f"The 'arch' parameter must be one of {list(ARCHS)}. Got {arch!r}.")
    path = Path(data)
    if path.is_dir():
        rows = default_sentences(path, val_fraction, seed)
    elif path.is_file():
        sentences = read_semeval(path)  # refuses a file without aspect terms
        if val is not None:
            rows = (sentences, {"val": read_semeval(val)})
        else:
            train_rows, val_rows = split_by_sentence(sentences, val_fraction, seed)
            rows = (train_rows, {"val": val_rows})
    else:
        raise InvalidInputError(f"The aspect training data {data!s} does not exist: pass a SemEval .xml file or ../shared/data.")
    if runs < 1:
        raise InvalidInputError(f"The 'runs' parameter must be at least 1. Got {runs}.")
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="affectkit-aspects-"))
    say(f"training {arch} on {len(rows[0])} sentences ({sum(len(r.terms) for r in rows[0])} terms), "
        f"validating on {', '.join(f'{k} ({len(v)})' for k, v in rows[1].items())}"
        + (f"; {runs} runs, weights averaged" if runs > 1 else ""))
    t0 = time.perf_counter()
    summaries, per_run = [], []
    for k in range(runs):
        cfg = AspectTrainConfig(out=str(work / f"run-{k}") if runs > 1 else str(work), data=str(path), arch=arch,
                                epochs=epochs, lr=lr, seed=seed, run=k, shared_layers=shared_layers,
                                threads=threads, val_fraction=val_fraction)
        summaries.append(train_aspects(cfg, rows))
        last = summaries[-1]["history"][-1]
        per_run.append({name: last[name] for name in rows[1]})
        if runs > 1:
            say(f"run {k + 1}/{runs}: " + _brief(per_run[-1]))
    minutes = (time.perf_counter() - t0) / 60
    summary = summaries[0]
    if runs > 1:
        checkpoint = average_checkpoints([work / f"run-{k}" / "last.pt" for k in range(runs)], work / "average.pt")
        metrics = evaluate_checkpoint(checkpoint, rows[1], arch=arch, shared_layers=shared_layers)
        say("average: " + _brief(metrics))
    else:
        checkpoint, metrics = work / "last.pt", per_run[0]
    card = {"validation (last epoch)" if runs == 1 else "validation (average of the runs' last epochs)": metrics,
            "training minutes": round(minutes, 1), "epochs": len(summary["history"]), "runs": runs,
            "train sentences": summary["train_sentences"], "train aspects": summary["train_aspects"],
            "recipe": {**asdict(cfg), "runs": runs, "out": None, "run": None}}
    if runs > 1:
        card["validation of each run (last epoch)"] = per_run
    out = export_aspects(checkpoint, out_dir, arch=arch, shared_layers=shared_layers, card=card)
    _write_card(out, arch, metrics, summary, minutes, str(path), runs=runs)
    if work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return {"path": out, "validation": {f"{k} {m}": v for k, r in metrics.items()
                                        for m, v in (("extraction F1", r["extraction"]["f1"]),
                                                     ("polarity accuracy", r["polarity"]["accuracy"]),
                                                     ("polarity macro-F1", r["polarity"]["macro_f1"]))}}


def _brief(metrics: dict[str, Any]) -> str:
    return "; ".join(f"{name} extraction F1 {r['extraction']['f1']:.4f}, polarity accuracy {r['polarity']['accuracy']:.4f}"
                     for name, r in metrics.items())


def _write_card(out: Path, arch: str, metrics: dict[str, Any], summary: dict[str, Any], minutes: float, data: str,
                runs: int = 1) -> None:
    lines = [
        f"# Aspect model ({arch}): a branch of affect-transformer-v1",
        "",
        f"- layers shared with the sentence model: {summary['config']['shared_layers']} (frozen); branch: the layers above them, fine-tuned",
        f"- heads: BIO term tagger, term polarity (aspect-attended pooling){', two GCN layers on the attention graph' if arch == 'aspect-gnn' else ''}{', the term marked in the branch input (one more branch pass per term)' if arch == 'aspect-marked' else ''}, restaurant categories",
        f"- trained on: {data} ({summary['train_sentences']} sentences, {summary['train_aspects']} polar terms); "
        f"{len(summary['history'])} epochs{f' x {runs} runs, weights averaged,' if runs > 1 else ''} in {minutes:.1f} min",
        "",
        "## Validation (last epoch)" if runs == 1 else "## Validation (average of the runs' weights)",
        "",
    ]
    for name, r in metrics.items():
        lines.append(f"- {name}: extraction F1 {r['extraction']['f1']:.4f} (P {r['extraction']['precision']:.4f}, "
                     f"R {r['extraction']['recall']:.4f}); polarity accuracy {r['polarity']['accuracy']:.4f}, "
                     f"macro-F1 {r['polarity']['macro_f1']:.4f} (n {r['polarity']['n']})")
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
