"""Opt-in emotion lexicon: the NRC Word-Emotion Association Lexicon (EmoLex).

EmoLex (Mohammad & Turney, 2013) links ~6,500 English words to Plutchik's eight emotions.
Its terms allow research and non-commercial use only, so affectkit does not ship it and
does not load it silently: the lexicon comes from the ``nrclex`` package
(``pip install 'affectkit[nrc]'``) and the analyzer works only after its user accepts the
terms (``accept_terms=True`` or ``AFFECTKIT_ACCEPT_NRC_TERMS=1``); the terms are logged
when it loads.

Scores are multi-label marginals: with ``k`` words of a text associated with an emotion
(words inside a negation scope do not count), its score is ``1 - 0.5 ** k``, so one word
gives 0.5 and the default threshold 0.5 predicts an emotion when at least one word evokes it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.base import Analyzer, Tags
from affectkit.exceptions import InvalidInputError, require
from affectkit.text.tokenize import tokenize

logger = logging.getLogger(__name__)

__all__ = ["NRCEmotionAnalyzer", "NRC_LABELS", "NRC_TERMS"]

NRC_LABELS = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust")
NRC_TERMS = (
    "The NRC Emotion Lexicon (EmoLex; Saif M. Mohammad and Peter D. Turney, National Research Council "
    "Canada) is free for research and non-commercial use. Commercial use needs a licence from the NRC. "
    "Cite: Mohammad & Turney (2013), Crowdsourcing a Word-Emotion Association Lexicon."
)


class NRCEmotionAnalyzer(Analyzer):
    """Plutchik's eight emotions from EmoLex word counts (opt-in; research and non-commercial use).

    Parameters
    ----------
    accept_terms:
        Confirms that you accept the lexicon's terms (see ``NRC_TERMS``). Without it, using
        the analyzer raises an error that shows the terms.
    threshold:
        Multi-label threshold(s); the default 0.5 means "at least one associated word".
    """

    kind = "lexicon-nrc"

    #: Not trainable: the lexicon's eight emotions are known from the start.
    labels_ = NRC_LABELS
    _parameter_constraints = {"accept_terms": ["boolean"]}

    def __init__(self, accept_terms: bool = False, threshold: object = None):
        self.accept_terms = accept_terms
        self.threshold = threshold

    @property
    def tags(self) -> Tags:
        return Tags(task="emotion", multi_label=True, trainable=False, generation="lexicon")

    def _lexicon(self) -> dict[str, np.ndarray]:
        lex = self.__dict__.get("_lex")
        if lex is not None:
            return lex
        self._validate_params()
        accepted = self.accept_terms or os.environ.get("AFFECTKIT_ACCEPT_NRC_TERMS") == "1"
        if not accepted:
            raise InvalidInputError(
                f"{NRC_TERMS} To use it, accept these terms: affectkit.load('emotion-lexicon-nrc', accept_terms=True) "
                f"or set AFFECTKIT_ACCEPT_NRC_TERMS=1."
            )
        from importlib import resources
        from importlib.util import find_spec

        if find_spec("nrclex") is None:
            require("nrclex", "nrc", "The NRC emotion lexicon")
        data = json.loads(resources.files("nrclex.data").joinpath("nrc_en.json").read_text(encoding="utf-8"))
        index = {lab: i for i, lab in enumerate(NRC_LABELS)}
        lex = {}
        for word, emotions in data.items():
            vec = np.zeros(len(NRC_LABELS))
            for e in emotions:
                if e in index:
                    vec[index[e]] = 1.0
            if vec.any():
                lex[word] = vec
        logger.warning("Using the NRC Emotion Lexicon under its terms: %s", NRC_TERMS)
        self._lex = lex
        return lex

    def _check_fitted(self) -> None:
        self._lexicon()

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        lex = self._lexicon()
        out = np.zeros((len(texts), len(NRC_LABELS)))
        for i, text in enumerate(texts):
            counts = np.zeros(len(NRC_LABELS))
            tokens, _ = tokenize(text, negation=True)
            for tok in tokens:
                if tok.endswith("_NEG"):
                    continue
                vec = lex.get(tok)
                if vec is None and tok.endswith("s"):
                    vec = lex.get(tok[:-1])
                if vec is not None:
                    counts += vec
            out[i] = 1.0 - 0.5**counts
        return out

    def _config(self) -> dict[str, Any]:
        config = super()._config()
        config["params"]["accept_terms"] = False  # acceptance is per user, never stored
        config["lexicon"] = "NRC EmoLex (from the nrclex package)"
        return config

    @classmethod
    def _from_dir(cls, path: Path, config: dict[str, Any]) -> NRCEmotionAnalyzer:
        return cls(**config.get("params", {}))
