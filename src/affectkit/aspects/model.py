"""The trained aspect model at inference: a branch on the default transformer's encoder.

An aspect model directory (``aspects.onnx``, ``polarity.npz``, ``config.json``) names its
*trunk*, the transformer model directory whose first layers it shares, and the trunk's graph
output that holds those layers' states. One call of :meth:`AspectModel.run` encodes each text
once with the trunk (its sentiment and emotion logits come out of the same call) and runs the
branch on the shared states: BIO tags give the terms, the polarity head gives each term's
polarity (terms found or given), and the category head gives restaurant categories.

Texts longer than the trunk's ``max_length`` tokens are cut at sentence ends, as the sentence
analyzer cuts them, and each piece is read on its own; spans are mapped back to the text.
See :mod:`affectkit.train.aspects` for the model and how it was trained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from affectkit._cancel import checkpoint
from affectkit._files import read_json
from affectkit._runtime import softmax
from affectkit.aspects.tags import decode_tags
from affectkit.exceptions import InvalidInputError, ModelFormatError

__all__ = ["AspectModel", "AspectPass", "TermScore", "CategoryScore", "DEFAULT_ASPECT_MODEL", "aspect_model_for"]

DEFAULT_ASPECT_MODEL = "aspect-transformer-v1"
#: A category is reported when its presence probability reaches this.
CATEGORY_THRESHOLD = 0.5


@dataclass(frozen=True)
class TermScore:
    """One aspect term: its character span, polarity probabilities and whether the model found it."""

    start: int
    end: int
    scores: dict[str, float]
    extracted: bool = True


@dataclass(frozen=True)
class CategoryScore:
    """One aspect category (restaurant domain): presence probability and polarity probabilities."""

    category: str
    scheme: str
    probability: float
    scores: dict[str, float]

    @property
    def polarity(self) -> str:
        return max(self.scores, key=self.scores.__getitem__)


@dataclass(frozen=True)
class AspectPass:
    """What one encoder pass says about one text."""

    terms: tuple[TermScore, ...]
    categories: tuple[CategoryScore, ...]
    heads: dict[str, np.ndarray] = field(default_factory=dict)  # the trunk's head logits, one row per piece
    lengths: tuple[int, ...] = ()  # the pieces' token counts


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@lru_cache(maxsize=8)
def _config(path: str) -> dict[str, Any]:
    return read_json(Path(path) / "config.json")


@lru_cache(maxsize=4)
def _load(path: str, threads: int, spin: bool) -> tuple[dict[str, Any], Any, dict[str, np.ndarray]]:
    from affectkit._runtime import onnx_session

    p = Path(path)
    config = _config(path)
    session = onnx_session(p / "aspects.onnx", threads, spin=spin, optimize=True, feature="The aspect model")
    with np.load(p / "polarity.npz") as z:
        weights = {k.replace("__", "."): z[k].astype(np.float32) for k in z.files}
    return config, session, weights


def _shipped(name: str) -> Path:
    from affectkit.registry import shipped_model_path

    return shipped_model_path(name)


class AspectModel:
    """A trained aspect model (default: the shipped ``aspect-transformer-v1``).

    Parameters
    ----------
    path:
        The aspect model directory; ``None`` for the shipped one.
    threads, spin:
        onnxruntime settings, as for :class:`~affectkit.analyzers.transformer.TransformerAnalyzer`;
        the trunk's session is the one the sentence analyzer with the same settings uses.
    batch_size:
        Pieces per onnxruntime call, after sorting by length.
    """

    def __init__(self, path: str | Path | None = None, threads: int | None = None, spin: bool = True,
                 batch_size: int = 16):
        self.path = path
        self.threads = threads
        self.spin = spin
        self.batch_size = batch_size

    def _dir(self) -> Path:
        p = Path(self.path) if self.path is not None else _shipped(DEFAULT_ASPECT_MODEL)
        if not (p / "aspects.onnx").is_file() or not (p / "config.json").is_file():
            raise ModelFormatError(f"{p} is not an aspect model directory (aspects.onnx, polarity.npz, config.json).")
        return p

    def trunk_dir(self) -> Path:
        """The transformer model directory the branch reads (``config["trunk"]``: next to it, else shipped)."""
        trunk = _config(str(self._dir().resolve()))["trunk"]
        p = self._dir() / trunk
        return p if (p / "config.json").is_file() else _shipped(trunk)

    def _parts(self) -> tuple[dict[str, Any], Any, dict[str, np.ndarray], Any]:
        from affectkit._runtime import available_cores
        from affectkit.analyzers.transformer import backbone

        threads = self.threads or available_cores()
        config, session, weights = _load(str(self._dir().resolve()), threads, bool(self.spin))
        bb = backbone(str(self.trunk_dir().resolve()), threads, bool(self.spin))
        if config["trunk_output"] not in bb.state_outputs:
            raise ModelFormatError(
                f"The trunk model {bb.path} has no output {config['trunk_output']!r} that the aspect model "
                f"{self._dir()} reads; reinstall affectkit or re-export the aspect model."
            )
        return config, session, weights, bb

    @property
    def polarities(self) -> tuple[str, ...]:
        return tuple(_config(str(self._dir().resolve()))["polarities"])

    # -- inference ---------------------------------------------------------------------------------------
    def run(self, texts: list[str], given: list[list[tuple[int, int]]] | None = None, extract: bool = True,
            ) -> list[AspectPass]:
        """One :class:`AspectPass` per text: extracted terms (when ``extract``), the ``given`` spans
        (per text, character spans) with their polarity, and the categories."""
        from affectkit.text.normalize import normalize_with_offsets

        config, session, weights, bb = self._parts()
        if given is not None and len(given) != len(texts):
            raise InvalidInputError(f"'given' must hold one list of spans per text: {len(given)} for {len(texts)} texts.")
        # pieces: (text index, piece start in text, normalised piece, char map to the piece)
        pieces: list[tuple[int, int, str, list[tuple[int, int]]]] = []
        for i, text in enumerate(texts):
            for s, e in bb.segments(text) if text.strip() else []:
                norm, spans = normalize_with_offsets(text[s:e])
                pieces.append((i, s, norm, spans))
        encs = bb.tokenizer.encode_batch([p[2] for p in pieces]) if pieces else []
        seqs = []
        for e in encs:
            ids = e.ids
            seqs.append(ids if len(ids) <= bb.max_length else ids[: bb.max_length - 1] + ids[-1:])
        heads, states = bb.run(seqs, self.batch_size, states=config["trunk_output"]) if seqs else ({}, [])
        branch = self._branch(session, states)
        results: list[dict[str, Any]] = [{"terms": {}, "cats": {}, "units": []} for _ in texts]
        polarities = tuple(config["polarities"])
        todo: list[tuple[int, int, int, tuple[int, int], list[int], bool]] = []  # (text, piece, len, span, toks, extracted)
        for k, ((i, start, norm, cmap), enc) in enumerate(zip(pieces, encs, strict=True)):
            tags, context, st, cats = branch[k]
            n = len(seqs[k])
            offsets = list(enc.offsets[:n])
            special = list(enc.special_tokens_mask[:n])
            if len(enc.ids) > n:
                special[-1] = 1

            def to_raw(a: int, b: int, _cmap: list[tuple[int, int]] = cmap, _start: int = start) -> tuple[int, int]:
                return _start + _cmap[a][0], _start + _cmap[b - 1][1]

            wanted: list[tuple[tuple[int, int], list[int], bool]] = []
            if extract:
                for a, b in decode_tags(tags.argmax(-1), offsets, special, norm):
                    rs, re_ = to_raw(a, b)
                    toks = [t for t, (x, y) in enumerate(offsets) if not special[t] and x < b and y > a and x != y]
                    wanted.append(((rs, re_), toks, True))
            raw_spans = [to_raw(x, y) if not special[t] and x != y else None for t, (x, y) in enumerate(offsets)]
            for gs, ge in (given[i] if given is not None else ()):
                toks = [t for t, r in enumerate(raw_spans) if r is not None and r[0] < ge and r[1] > gs]
                if toks:
                    wanted.append(((gs, ge), toks, False))
            todo += [(i, k, n, span, toks, extracted) for span, toks, extracted in wanted]
            for c, (scheme, name) in enumerate(self._categories(config)):
                p = float(_sigmoid(cats[c, 0]))
                best = results[i]["cats"].get(name)
                if best is None or p > best[1]:
                    results[i]["cats"][name] = (scheme, p, softmax(cats[c, 1:][None])[0])
            results[i]["units"].append(k)
        if config.get("marked"):
            # the marked branch reads the piece once more per term, with the term's tokens marked
            marks = []
            for _, _k, n, _, toks, _ in todo:
                mk = np.zeros(n, dtype=np.float32)
                mk[toks] = 1.0
                marks.append(mk)
            again = self._branch(session, [states[k] for _, k, *_ in todo], marks)
            pol_inputs = [(again[j][1], again[j][2]) for j in range(len(todo))]
        else:
            pol_inputs = [(branch[k][1], branch[k][2]) for _, k, *_ in todo]
        for (i, _, n, span, toks, extracted), (context, st) in zip(todo, pol_inputs, strict=True):
            key = (span, extracted)
            if key not in results[i]["terms"]:
                results[i]["terms"][key] = self._polarity(weights, context[:n], st[:n], toks)
        out = []
        for r in results:
            terms = tuple(TermScore(s, e, {lab: float(v) for lab, v in zip(polarities, p, strict=True)}, ex)
                          for ((s, e), ex), p in sorted(r["terms"].items(), key=lambda kv: (kv[0][0], not kv[0][1])))
            cats = tuple(CategoryScore(name, scheme, p, {lab: float(v) for lab, v in zip(polarities, pp, strict=True)})
                         for name, (scheme, p, pp) in r["cats"].items())
            units = r["units"]
            out.append(AspectPass(terms, cats, {name: z[units] for name, z in heads.items()},
                                  tuple(len(seqs[k]) for k in units)))
        return out

    def head_scores(self, passes: list[AspectPass]) -> dict[str, np.ndarray]:
        """The trunk's sentence heads (``{"sentiment": (n, 3), "emotion": (n, 28)}``) from the passes,
        pooled over a text's pieces as :class:`~affectkit.analyzers.transformer.TransformerAnalyzer` pools them."""
        from affectkit.analyzers.transformer import pool_units

        config, _, _, bb = self._parts()
        counts = np.array([max(len(p.lengths), 1) for p in passes], dtype=np.int64)
        units = [range(n) for p in passes for n in (p.lengths or (0,))]
        out = {}
        for name, head in bb.config["heads"].items():
            rows = [p.heads[head["output"]] if len(p.lengths) else np.zeros((1, len(head["labels"])), dtype=np.float32)
                    for p in passes]
            z = np.concatenate(rows) if rows else np.zeros((0, len(head["labels"])), dtype=np.float32)
            out[name], _ = pool_units(z, units, counts, {}, head["labels"], bool(head["multi_label"]))
        return out

    @staticmethod
    def _categories(config: dict[str, Any]) -> list[tuple[str, str]]:
        return [(scheme, name) for scheme, names in config["categories"].items() for name in names]

    def _branch(self, session: Any, states: list[np.ndarray],
                marks: list[np.ndarray] | None = None) -> list[list[np.ndarray]]:
        """(tags, context, states, category logits) per piece, from the branch graph; ``marks`` (one
        0/1 row per piece) are the aspect's tokens for a marked branch (zeros when not given)."""
        marked = "aspect_mask" in {i.name for i in session.get_inputs()}
        outs: list[list[np.ndarray]] = [[None] * len(states) for _ in range(4)]  # type: ignore[list-item]
        order = np.argsort([len(s) for s in states], kind="stable")
        for b0 in range(0, len(order), self.batch_size):
            checkpoint()
            rows = order[b0 : b0 + self.batch_size]
            width = max(len(states[i]) for i in rows)
            h = np.zeros((len(rows), width, states[rows[0]].shape[1]), dtype=np.float32)
            m = np.zeros((len(rows), width), dtype=np.int64)
            for k, i in enumerate(rows):
                h[k, : len(states[i])] = states[i]
                m[k, : len(states[i])] = 1
            feed = {"hidden_states": h, "attention_mask": m}
            if marked:
                a = np.zeros((len(rows), width), dtype=np.float32)
                if marks is not None:
                    for k, i in enumerate(rows):
                        a[k, : len(marks[i])] = marks[i]
                feed["aspect_mask"] = a
            res = session.run(["tag_logits", "context", "states", "category_logits"], feed)
            for j, arr in enumerate(res):
                for k, i in enumerate(rows):
                    outs[j][i] = arr[k]
        return [list(x) for x in zip(*outs, strict=True)] if states else []

    @staticmethod
    def _polarity(w: dict[str, np.ndarray], context: np.ndarray, states: np.ndarray, toks: list[int]) -> np.ndarray:
        a = states[toks].mean(0)
        t = np.arange(len(context))
        dist = np.maximum(min(toks) - t, 0) + np.maximum(t - max(toks), 0)
        context = context * np.clip(1.0 - dist / len(context), 0.0, None)[:, None]
        q = w["pol_query.weight"] @ a
        sc = context @ q / math.sqrt(context.shape[-1])
        att = softmax(sc[None])[0]
        r = att @ context
        x = np.concatenate([a, r])
        h = np.tanh(w["pol_hidden.weight"] @ x + w["pol_hidden.bias"])
        return softmax((w["pol_out.weight"] @ h + w["pol_out.bias"])[None])[0]


def aspect_model_for(analyzer: Any, path: str | Path | None = None) -> AspectModel | None:
    """The aspect model at ``path`` (default: the shipped one) when ``analyzer`` is a head of its trunk
    (for the shipped model: the default transformer), else None."""
    from affectkit.analyzers.transformer import TransformerAnalyzer

    if not isinstance(analyzer, TransformerAnalyzer) or analyzer.path is None:
        return None
    try:
        model = AspectModel(path, threads=analyzer.threads, spin=analyzer.spin, batch_size=analyzer.batch_size)
        if model.trunk_dir().resolve() != Path(analyzer.path).resolve():
            return None
    except (ModelFormatError, FileNotFoundError, InvalidInputError, KeyError):
        return None
    return model
