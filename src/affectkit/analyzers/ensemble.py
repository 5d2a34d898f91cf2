"""Ensembles of analyzers that share a task and a label set, behind the same contract.

Three ways to combine the members' scores (``mode``):

* ``"soft"``: the weighted mean of the members' probabilities (multi-label: of their
  marginals). Rows of single-label ensembles sum to 1.
* ``"hard"``: weighted votes. Single-label: each member votes for its predicted label and
  the probabilities are the vote shares; ties are broken by the soft mean (a 1e-6 share of
  it is mixed in, so rows still sum to 1). Multi-label: each member votes per label with
  its own thresholds; the marginal is the weighted share of votes (threshold 0.5 =
  majority).
* ``"stacking"``: a logistic-regression meta-learner on the concatenated log-probabilities
  of the members, fitted on validation data with :meth:`EnsembleAnalyzer.fit`. Its
  coefficients are stored as arrays (``stacker.npz``), never pickled.

Members are registered names (``"lexicon"``; ``"default"`` is the task's default model),
paths to model directories, or analyzer objects. Their columns are aligned by label name,
so members may order their labels differently. Members are never re-trained: ``fit``
tunes the ensemble's weights (soft, hard) or fits the stacker (stacking) on the data it
gets, which should be validation data the members did not train on.

Saving writes ``config.json`` with the member list: registered names stay names; other
members are saved with their own ``save`` into ``members/<i>/``.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from affectkit._files import read_json
from affectkit._runtime import sigmoid, softmax
from affectkit._validation import as_text_batch
from affectkit.analyzers.classic.model import full_softmax_weights
from affectkit.base import Analyzer, Tags
from affectkit.exceptions import InvalidInputError, ModelFormatError, NotFittedError
from affectkit.labels import canonical_order
from affectkit.metrics import best_f1_thresholds, log_loss, score_multi, score_single
from affectkit.params import Interval, Options
from affectkit.registry import inner_dir, load, load_dir, model_tags, registry
from affectkit.targets import encode_targets

logger = logging.getLogger(__name__)

__all__ = ["EnsembleAnalyzer", "MODES", "crossfit_proba", "from_spec", "from_config_file", "load_spec", "portable_name"]

MODES = ("soft", "hard", "stacking")
OBJECTIVES = ("macro_recall", "macro_f1", "log_loss")
_TIE = 1e-6  # share of the soft mean mixed into hard votes: breaks ties, keeps rows summing to 1
_LOG_FLOOR = 1e-6  # stacking features are log(max(p, floor))


class EnsembleAnalyzer(Analyzer):
    """Combine fitted analyzers of one task and label set (soft, hard or stacked).

    Parameters
    ----------
    members:
        Registered names, model-directory paths, or analyzer objects (at least 2).
        ``"default"`` is the task's default model (``"sentiment"`` or ``"emotion"``).
    mode:
        ``"soft"`` (weighted mean of probabilities), ``"hard"`` (weighted votes) or
        ``"stacking"`` (a logistic-regression meta-learner; needs :meth:`fit`).
    weights:
        One non-negative weight per member (normalised to sum 1), or ``None``: equal
        weights until :meth:`fit` tunes them. Explicit weights are kept by ``fit``.
    threshold:
        Multi-label decision threshold(s); ``None`` uses ``thresholds_`` (tuned by ``fit``;
        before that the weighted mean of the members' thresholds for soft, 0.5 for hard).
    objective:
        What :meth:`fit` optimises when it tunes weights: ``"log_loss"`` (minimised; the
        default of single-label soft ensembles), ``"macro_recall"`` (the SemEval-2017 Task 4
        measure; the default of single-label hard ensembles), or ``"macro_f1"`` (at per-label
        F1-tuned thresholds; the multi-label default). ``None`` picks the default.
    grid_step:
        Step of the grid over the weight simplex searched by :meth:`fit` (0.1: 66 points
        for 3 members). Equal weights are always a candidate.
    C:
        Inverse regularisation strength of the stacking meta-learner.
    """

    kind = "ensemble"

    #: ``members`` and ``weights`` are checked in code (a sequence of at least 2; one weight per member).
    _parameter_constraints = {
        "mode": [Options(MODES)],
        "objective": [Options(OBJECTIVES), None],
        "grid_step": [Interval(float, 0, 0.5, closed="right")],
        "C": [Interval(float, 0, None, closed="neither")],
    }

    def __init__(
        self,
        members: Sequence[Any] = (),
        *,
        mode: str = "soft",
        weights: Sequence[float] | None = None,
        threshold: object = None,
        objective: str | None = None,
        grid_step: float = 0.1,
        C: float = 1.0,
    ):
        self.members = members
        self.mode = mode
        self.weights = weights
        self.threshold = threshold
        self.objective = objective
        self.grid_step = grid_step
        self.C = C

    # -- parameters --------------------------------------------------------------------------
    def set_params(self, **params: Any) -> EnsembleAnalyzer:
        super().set_params(**params)
        if "members" in params:  # a new member list: what was built from the old one is stale
            for attr in ("members_", "labels_", "weights_", "stacker_", "thresholds_", "member_thresholds_"):
                self.__dict__.pop(attr, None)
        return self

    def _validate_params(self) -> None:
        name = type(self).__name__
        super()._validate_params()
        if isinstance(self.members, str | bytes | Path) or not isinstance(self.members, Sequence):
            raise InvalidInputError(
                f"The 'members' parameter of {name} must be a list of model names, paths or analyzers. "
                f"Got {self.members!r}; for one string use \"a+b\" with affectkit.load('ensemble:a+b')."
            )
        if len(self.members) < 2:
            raise InvalidInputError(
                f"The 'members' parameter of {name} needs at least 2 members. Got {len(self.members)}."
            )
        if self.weights is not None:
            _normalised_weights(self.weights, len(self.members), name)

    # -- members -----------------------------------------------------------------------------
    def resolve_members(self) -> None:
        """Load the members and align their labels (the ensemble's structural state)."""
        self._validate_params()
        specs = list(self.members)
        built: list[Analyzer | None] = [None] * len(specs)
        for i, spec in enumerate(specs):
            if isinstance(spec, Analyzer):
                built[i] = spec
            elif isinstance(spec, str | Path) and str(spec) != "default":
                built[i] = load(spec)
            elif not isinstance(spec, str | Path):
                raise InvalidInputError(
                    f"Member {i} of {type(self).__name__} must be a model name, a path or an analyzer. "
                    f"Got {type(spec).__name__}."
                )
        tasks = {m.tags.task for m in built if m is not None}
        task = tasks.pop() if len(tasks) == 1 else "sentiment"
        for i, m in enumerate(built):
            if m is None:  # "default": the default model of the other members' task
                built[i] = load(task)
        members: list[Analyzer] = [m for m in built if m is not None]
        for m in members:
            m._check_fitted()
        self._check_compatible(members)
        labels = canonical_order(members[0].labels_)
        self.members_ = members
        self.columns_ = [np.array([list(m.labels_).index(lab) for lab in labels]) for m in members]
        self.labels_ = labels
        self.multi_label_ = bool(members[0].tags.multi_label)
        self.member_thresholds_ = [
            m._thresholds()[cols] if self.multi_label_ else None for m, cols in zip(members, self.columns_, strict=True)
        ]
        if self.multi_label_ and not hasattr(self, "thresholds_"):
            if self.mode == "soft":
                w = self._weights()
                self.thresholds_ = np.sum([wi * t for wi, t in zip(w, self.member_thresholds_, strict=True)], axis=0)
            else:
                self.thresholds_ = np.full(len(labels), 0.5)

    def _check_compatible(self, members: list[Analyzer]) -> None:
        described = "; ".join(
            f"{self.member_name(i)}: task {m.tags.task!r}, {'multi' if m.tags.multi_label else 'single'}-label, "
            f"labels {list(m.labels_)}"
            for i, m in enumerate(members)
        )
        first = members[0]
        same = all(
            m.tags.task == first.tags.task
            and m.tags.multi_label == first.tags.multi_label
            and set(m.labels_) == set(first.labels_)
            and len(m.labels_) == len(first.labels_)
            for m in members
        )
        if not same:
            raise InvalidInputError(
                f"The members of {type(self).__name__} must share a task and a label set. Got {described}. "
                f"Combine only models of the same task (e.g. all sentiment models)."
            )

    def member_name(self, i: int) -> str:
        spec = list(self.members)[i]
        return repr(str(spec)) if isinstance(spec, str | Path) else f"member {i} ({type(spec).__name__})"

    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            self.resolve_members()
        if self.mode == "stacking" and not hasattr(self, "stacker_"):
            raise NotFittedError(
                f"This {type(self).__name__} in mode 'stacking' has no meta-learner yet. "
                f"Call fit(val_texts, val_y) on validation data first, or use mode='soft' or 'hard'."
            )

    @property
    def tags(self) -> Tags:
        """The members' task and label kind. Reading it loads nothing: before the members are
        loaded, they come from the members' registry entries or model directories."""
        if hasattr(self, "members_"):
            return Tags(task=self.members_[0].tags.task, multi_label=self.multi_label_, trainable=True,
                        generation="ensemble")
        known = [t for t in (model_tags(m) for m in self.members if str(m) != "default") if t is not None]
        first = known[0] if known else Tags()
        return Tags(task=first.task, multi_label=first.multi_label, trainable=True, generation="ensemble")

    def _weights(self) -> np.ndarray:
        if hasattr(self, "weights_"):
            return self.weights_
        n = len(self.members)
        if self.weights is None:
            return np.full(n, 1.0 / n)
        return _normalised_weights(self.weights, n, type(self).__name__)

    # -- scores ------------------------------------------------------------------------------
    def member_proba(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each member's scores, columns aligned to the ensemble's ``labels_`` order."""
        if not hasattr(self, "members_"):
            self.resolve_members()
        return [m.predict_proba(texts)[:, cols] for m, cols in zip(self.members_, self.columns_, strict=True)]

    def combine(self, probas: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
        """The ensemble's scores from the members' aligned scores (as :meth:`member_proba` gives)."""
        self._check_fitted()
        probas = self._check_probas(probas)
        w = self._weights() if weights is None else _normalised_weights(weights, len(probas), type(self).__name__)
        if self.mode == "soft":
            return _soft(probas, w, self.multi_label_)
        if self.mode == "hard":
            return _hard(probas, w, self.multi_label_, self.member_thresholds_)
        return _stack_predict(self.stacker_, probas, self.multi_label_)

    def _check_probas(self, probas: Sequence[np.ndarray]) -> list[np.ndarray]:
        arrs = [np.asarray(p, dtype=np.float64) for p in probas]
        k = len(self.labels_)
        if len(arrs) != len(self.members_) or any(p.ndim != 2 or p.shape[1] != k for p in arrs):
            raise InvalidInputError(
                f"{type(self).__name__}.combine expects {len(self.members_)} arrays of shape (n, {k}). "
                f"Got shapes {[p.shape for p in arrs]}."
            )
        if len({p.shape[0] for p in arrs}) != 1:
            raise InvalidInputError(f"The member score arrays have different numbers of rows: {[p.shape for p in arrs]}.")
        return arrs

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.combine(self.member_proba(texts))

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], y: object) -> EnsembleAnalyzer:
        """Tune on validation data: the weights (soft, hard; unless given) or the stacker.

        Weights are searched on a grid over the simplex (step ``grid_step``, plus equal
        weights) for the best ``objective``. A grid, because it serves every objective (the
        hard vote and macro-recall are step functions of the weights that gradients cannot
        follow), a coarse grid has few choices to overfit with, and equal weights stay a
        candidate, so on the tuning data the tuned ensemble never scores below the
        equal-weight one. Soft ensembles minimise the log loss by default: on TweetEval val
        (``scripts/ensemble_eval.py``, 2-fold cross-fitting) log-loss weights scored a higher
        and steadier held-out macro-recall than weights chosen for macro-recall itself,
        whose steps make the choice noisy on a thousand texts. Ties go to the lower log loss,
        then to weights nearer equal. Members are not re-trained.
        """
        self._validate_params()
        batch = as_text_batch(texts, method=f"{type(self).__name__}.fit")
        if len(batch) == 0:
            raise InvalidInputError(f"{type(self).__name__}.fit needs at least one labelled text. Got none.")
        if not hasattr(self, "members_"):
            self.resolve_members()
        return self.fit_proba(self.member_proba(batch.texts), y)

    tune = fit

    def fit_proba(self, probas: Sequence[np.ndarray], y: object) -> EnsembleAnalyzer:
        """:meth:`fit` from the members' aligned scores already computed (saves predicting twice)."""
        self._validate_params()
        if not hasattr(self, "members_"):
            self.resolve_members()
        probas = self._check_probas(probas)
        target, _, _ = encode_targets(y, probas[0].shape[0], self.labels_, self.multi_label_, f"{type(self).__name__}.fit")
        objective = self.objective or ("macro_f1" if self.multi_label_ else
                                       "log_loss" if self.mode == "soft" else "macro_recall")
        if self.mode == "stacking":
            self.stacker_ = _stack_fit(probas, target, self.multi_label_, self.C)
            self.weights_ = self._weights()
        elif self.weights is None:
            self.weights_ = self._search_weights(probas, target, objective)
        else:
            self.weights_ = self._weights()
        if self.multi_label_:
            self.thresholds_ = best_f1_thresholds(self.combine(probas), target)
        self.objective_ = objective
        logger.info("ensemble (%s): weights %s", self.mode, np.round(self.weights_, 3).tolist())
        return self

    def _search_weights(self, probas: list[np.ndarray], target: np.ndarray, objective: str) -> np.ndarray:
        m = len(probas)
        steps = max(1, int(round(1.0 / self.grid_step)))
        candidates = [np.full(m, 1.0 / m)]
        candidates += [np.array(c, dtype=np.float64) / steps for c in _compositions(steps, m)]
        if len(candidates) > 20000:
            raise InvalidInputError(
                f"The weight grid of {m} members at grid_step={self.grid_step} has {len(candidates)} points; "
                f"use a larger grid_step or fewer members."
            )
        equal = candidates[0]
        best_key, best_w = None, equal
        for w in candidates:
            p = _soft(probas, w, self.multi_label_) if self.mode == "soft" else _hard(
                probas, w, self.multi_label_, self.member_thresholds_)
            soft = p if self.mode == "soft" else _soft(probas, w, self.multi_label_)
            loss = log_loss(soft, target, eps=1e-6)
            score = -loss if objective == "log_loss" else _objective(p, target, self.multi_label_, objective)
            key = (round(score, 12), -loss, -float(np.abs(w - equal).sum()))
            if best_key is None or key > best_key:
                best_key, best_w = key, w
        return best_w

    # -- persistence -------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        config = super()._config()
        config["params"]["members"] = [self._member_entry(i) for i in range(len(self.members_))]
        config["weights"] = [float(w) for w in self._weights()]
        config["fitted"] = hasattr(self, "weights_")
        config["thresholds"] = [float(t) for t in self.thresholds_] if self.multi_label_ else None
        config["stacker"] = None if not hasattr(self, "stacker_") else {"features": "log_proba", "floor": _LOG_FLOOR}
        return config

    def _member_entry(self, i: int) -> dict[str, str]:
        spec = list(self.members)[i]
        if isinstance(spec, str) and portable_name(spec):
            return {"name": spec}
        return {"path": f"members/{i}"}  # a directory, a config file or an object: saved inside the ensemble

    def _save_arrays(self, path: Path, config: dict[str, Any]) -> None:
        import shutil

        for i, entry in enumerate(config["params"]["members"]):
            if "path" in entry:
                target = path / entry["path"]
                if target.exists():
                    shutil.rmtree(target)
                self.members_[i].save(target)
        if hasattr(self, "stacker_"):
            np.savez(path / "stacker.npz", coef=self.stacker_["coef"], intercept=self.stacker_["intercept"])

    @classmethod
    def _from_dir(cls, path: Path, config: dict[str, Any]) -> EnsembleAnalyzer:
        params = config.get("params", {})
        entries = params.get("members") if isinstance(params, dict) else None
        if not isinstance(entries, list):
            raise ModelFormatError(
                f"{path}/config.json has params.members = {entries!r}; expected a list of members, each "
                f"{{\"name\": <registered model>}} or {{\"path\": \"members/<i>\"}}. Save the ensemble again "
                f"with EnsembleAnalyzer.save."
            )
        params = {k: v for k, v in params.items() if k != "members"}
        members: list[Any] = []
        for i, entry in enumerate(entries):
            key = f"params.members[{i}]"
            if not isinstance(entry, dict) or ("name" in entry) == ("path" in entry):
                raise ModelFormatError(
                    f"{path}/config.json has {key} = {entry!r}; expected {{\"name\": <registered model>}} or "
                    f"{{\"path\": \"members/{i}\"}} (a folder inside the ensemble's directory). Save the ensemble "
                    f"again with EnsembleAnalyzer.save."
                )
            if "name" in entry:
                if not isinstance(entry["name"], str) or not portable_name(entry["name"]):
                    raise ModelFormatError(
                        f"{path}/config.json has {key}.name = {entry['name']!r}, which is not a registered model "
                        f"name (affectkit.list_models() lists them). A saved ensemble names registered models and "
                        f"keeps every other member in a folder inside its directory ({{\"path\": \"members/{i}\"}}): "
                        f"save the ensemble again with EnsembleAnalyzer.save."
                    )
                members.append(entry["name"])
            else:
                members.append(load_dir(inner_dir(path, entry["path"], f"{key}.path")))
        model = cls(members, **params)
        if config.get("fitted"):
            model.weights_ = np.asarray(config["weights"], dtype=np.float64)
        if config.get("thresholds") is not None:
            model.thresholds_ = np.asarray(config["thresholds"], dtype=np.float64)
        if config.get("stacker") is not None:
            try:
                with np.load(path / "stacker.npz", allow_pickle=False) as npz:
                    model.stacker_ = {"coef": npz["coef"], "intercept": npz["intercept"]}
            except (OSError, KeyError, ValueError) as exc:
                raise ModelFormatError(f"Cannot read the stacking meta-learner in {path}: {exc}") from exc
        model.resolve_members()
        model.card_ = config.get("card", {})
        return model


_SCHEME_ARG = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")  # a Hub id ("org/name"), never a path


def portable_name(name: str, _depth: int = 0) -> bool:
    """Whether an ensemble member given by ``name`` loads the same model wherever the ensemble is loaded:
    a registered name, ``"default"``, ``"hf:<Hub id>"``, or ``"ensemble:"`` of such names; never a path
    (a saved ensemble keeps those members in folders inside its directory)."""
    if name == "default" or name in registry.names(include_aliases=True):
        return True
    scheme = registry.split_scheme(name) if len(name) <= 1000 and _depth < 4 else None
    if scheme is None:
        return False
    if scheme[0] == "ensemble":
        parts = scheme[1].partition("?")[0].split("+")
        return len(parts) >= 2 and all(portable_name(p.strip(), _depth + 1) for p in parts)
    arg = scheme[1]
    return bool(_SCHEME_ARG.fullmatch(arg)) and ".." not in arg and not Path(arg).exists()


def crossfit_proba(
    model: EnsembleAnalyzer, probas: Sequence[np.ndarray], y: Sequence[Any], *, n_splits: int = 2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, list[EnsembleAnalyzer]]:
    """Out-of-fold ensemble scores: fit a copy of ``model`` on all folds but one, score that one.

    Honest scores for an ensemble tuned on the same validation set it is judged on.
    Single-label folds are stratified. Returns the pooled scores, the pooled predictions
    (label names, or a 0/1 matrix at each fold's own thresholds) and the fitted copies.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    if not hasattr(model, "members_"):
        model.resolve_members()
    probas = model._check_probas(probas)
    y = list(y)
    if model.multi_label_:
        folds = KFold(n_splits, shuffle=True, random_state=seed).split(probas[0])
        pred = np.zeros(probas[0].shape, dtype=np.int64)
    else:
        folds = StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(probas[0], [str(v) for v in y])
        pred = np.empty(len(y), dtype=object)
    pooled = np.zeros_like(probas[0])
    fitted = []
    for fit_idx, score_idx in folds:
        params = model.get_params()
        params["members"] = list(model.members_)
        part = EnsembleAnalyzer(**params).fit_proba([p[fit_idx] for p in probas], [y[i] for i in fit_idx])
        pooled[score_idx] = part.combine([p[score_idx] for p in probas])
        pred[score_idx] = part.labels_from_proba(pooled[score_idx])
        fitted.append(part)
    return pooled, pred, fitted


# -- combining -------------------------------------------------------------------------------
def _soft(probas: list[np.ndarray], w: np.ndarray, multi: bool) -> np.ndarray:
    p = np.tensordot(w, np.stack(probas), axes=1)
    if not multi:
        p = p / p.sum(axis=1, keepdims=True).clip(1e-300)
    return p


def _hard(probas: list[np.ndarray], w: np.ndarray, multi: bool, thresholds: list[Any]) -> np.ndarray:
    if multi:
        votes = [(p >= t[None, :]).astype(np.float64) for p, t in zip(probas, thresholds, strict=True)]
        return np.tensordot(w, np.stack(votes), axes=1)
    n, k = probas[0].shape
    shares = np.zeros((n, k))
    for wi, p in zip(w, probas, strict=True):
        shares[np.arange(n), p.argmax(axis=1)] += wi
    return (shares + _TIE * _soft(probas, w, False)) / (1.0 + _TIE)


def _features(probas: list[np.ndarray]) -> np.ndarray:
    return np.log(np.clip(np.hstack(probas), _LOG_FLOOR, 1.0))


def _stack_fit(probas: list[np.ndarray], target: np.ndarray, multi: bool, C: float) -> dict[str, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    X = _features(probas)
    k = probas[0].shape[1]
    if multi:
        coef, intercept = np.zeros((k, X.shape[1])), np.zeros(k)
        for j in range(k):
            yj = target[:, j]
            if yj.min() == yj.max():  # constant label: a bias that predicts the constant
                intercept[j] = 20.0 if yj[0] == 1 else -20.0
                continue
            clf = LogisticRegression(C=C, class_weight="balanced", max_iter=2000).fit(X, yj)
            coef[j], intercept[j] = clf.coef_[0], clf.intercept_[0]
        return {"coef": coef, "intercept": intercept}
    if len(np.unique(target)) < 2:
        raise InvalidInputError("Stacking needs validation data with at least 2 distinct labels.")
    # class_weight="balanced": the meta-learner aims at balanced recall, the measure we report
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=2000).fit(X, target)
    W, b, _ = full_softmax_weights(clf.coef_, clf.intercept_, clf.classes_, k)
    return {"coef": np.ascontiguousarray(W.T), "intercept": b}


def _stack_predict(stacker: dict[str, np.ndarray], probas: list[np.ndarray], multi: bool) -> np.ndarray:
    z = _features(probas) @ stacker["coef"].T + stacker["intercept"]
    return sigmoid(z) if multi else softmax(z)


# -- tuning helpers --------------------------------------------------------------------------
def _compositions(total: int, parts: int):
    """Every tuple of ``parts`` non-negative integers summing to ``total``."""
    for cuts in itertools.combinations(range(total + parts - 1), parts - 1):
        prev, out = -1, []
        for c in cuts:
            out.append(c - prev - 1)
            prev = c
        out.append(total + parts - 2 - prev)
        yield tuple(out)


def _objective(p: np.ndarray, target: np.ndarray, multi: bool, objective: str) -> float:
    if multi:
        pred = (p >= best_f1_thresholds(p, target)[None, :]).astype(np.int64)
        return score_multi(target, pred)[0]["macro_f1"]
    return score_single(target, p.argmax(axis=1), range(p.shape[1]))[objective]


def _normalised_weights(weights: Sequence[float], n: int, name: str) -> np.ndarray:
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        w = np.array([np.nan])
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise InvalidInputError(
            f"The 'weights' parameter of {name} must be {n} non-negative numbers (one per member) with a "
            f"positive sum, or None for equal weights. Got {weights!r}."
        )
    return w / w.sum()


# -- spec strings and config files -----------------------------------------------------------
def load_spec(spec: str, **params: Any) -> EnsembleAnalyzer:
    """The ``ensemble`` scheme's loader: ``affectkit.load("ensemble:" + spec)``, or a JSON config file's path."""
    if spec.endswith(".json") and Path(spec).is_file():
        return from_config_file(spec, **params)
    return from_spec(spec, **params)


def from_spec(spec: str, **params: Any) -> EnsembleAnalyzer:
    """An ensemble from ``"a+b+c?mode=hard&weights=0.5,0.3,0.2"`` (the part after ``ensemble:``)."""
    from urllib.parse import parse_qsl

    names, _, query = spec.partition("?")
    members = [m.strip() for m in names.split("+")]
    if len(members) < 2 or not all(members):
        raise InvalidInputError(
            f"An ensemble name lists at least 2 members separated by '+', e.g. 'ensemble:default+classic+lexicon'. "
            f"Got {'ensemble:' + spec!r}."
        )
    options: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)) if query else []:
        if key == "weights":
            try:
                options[key] = [float(v) for v in value.split(",")]
            except ValueError:
                raise InvalidInputError(f"The weights in {'ensemble:' + spec!r} must be numbers. Got {value!r}.") from None
        elif key in ("grid_step", "C"):
            options[key] = float(value)
        elif key in ("mode", "objective"):
            options[key] = value
        elif key == "threshold":
            options[key] = float(value)
        else:
            raise InvalidInputError(
                f"Unknown option {key!r} in {'ensemble:' + spec!r}. Options: mode, weights, threshold, objective, "
                f"grid_step, C."
            )
    options.update(params)
    model = EnsembleAnalyzer(members, **options)
    model.resolve_members()
    return model


def from_config_file(path: str | Path, **params: Any) -> EnsembleAnalyzer:
    """An ensemble from a JSON file ``{"members": [...], "mode": ..., "weights": [...]}``.

    Member paths are relative to the file's directory.
    """
    path = Path(path)
    try:
        config = read_json(path)
    except (OSError, ModelFormatError) as exc:
        raise InvalidInputError(f"Cannot read the ensemble config {path}: {exc}") from exc
    if isinstance(config, dict) and config.get("format") == "affectkit-model":
        raise InvalidInputError(f"{path} is a model directory's config; load the directory {str(path.parent)!r}.")
    if not isinstance(config, dict) or not isinstance(config.get("members"), list):
        raise InvalidInputError(
            f"{path} is not an ensemble config: expected a JSON object with a 'members' list, e.g. "
            f'{{"members": ["default", "classic", "lexicon"], "mode": "soft"}}.'
        )
    allowed = set(EnsembleAnalyzer._param_names())
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise InvalidInputError(f"{path} has unknown keys {unknown}; an ensemble config takes {sorted(allowed)}.")
    members = []
    for m in config["members"]:
        if isinstance(m, str) and (path.parent / m).is_dir():
            members.append(str((path.parent / m).resolve()))
        else:
            members.append(m)
    config["members"] = members
    config.update(params)
    model = EnsembleAnalyzer(**config)
    model.resolve_members()
    return model
