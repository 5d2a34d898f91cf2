"""Topics are reproducible: the same texts, embeddings and seed give the same topics, whatever the
process, hash seed or thread counts; the fit's fingerprint says when two runs had the same input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("bertopic")

from affectkit.reviews.topics import fit_fingerprint, fit_topics  # noqa: E402

# Reviews written for this test: six subjects, each with its own words.
SUBJECTS = {
    "zip": ["the zip broke", "zipper stuck again", "zip pull snapped off"],
    "battery": ["battery dies fast", "battery life is short", "charging the battery takes hours"],
    "colour": ["colour faded after washing", "the colour is brighter than shown", "lovely deep colour"],
    "delivery": ["delivery took two weeks", "courier lost the parcel", "arrived early, quick delivery"],
    "size": ["runs a size small", "order one size up", "the size chart is wrong"],
    "smell": ["strong chemical smell", "smell went away after a day", "smells of plastic"],
}

#: Words every subject uses (c-TF-IDF keeps only words found in at least two topics).
SHARED = ["great", "poor", "okay", "nice", "bad"]


def _corpus(n: int = 300) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(len(SUBJECTS), 384))
    docs, rows = [], []
    for i in range(n):
        k = i % len(SUBJECTS)
        phrases = list(SUBJECTS.values())[k]
        docs.append(f"{phrases[i % 3]}, {SHARED[i % 5]} product overall (review {i})")
        rows.append(centres[k] + 0.6 * rng.normal(size=384))
    emb = np.asarray(rows, dtype=np.float32)
    return docs, emb / np.linalg.norm(emb, axis=1, keepdims=True)


def _outcome(result, others) -> dict:
    return {"assignments": result.assignments.tolist(), "others": others.tolist(),
            "words": {str(k): v for k, v in result.words.items()}, "input": result.input_sha256}


FIT = """
import json, sys
import numpy as np
from affectkit.reviews.topics import fit_topics
docs = json.load(open(sys.argv[1]))
emb = np.load(sys.argv[2])
result, others = fit_topics(docs[:250], emb[:250], docs[250:], emb[250:], seed=3)
print(json.dumps({"assignments": result.assignments.tolist(), "others": others.tolist(),
                  "words": {str(k): v for k, v in result.words.items()}, "input": result.input_sha256}))
"""


def test_the_same_input_and_seed_give_the_same_topics_in_any_process(tmp_path):
    docs, emb = _corpus()
    first = _outcome(*fit_topics(docs[:250], emb[:250], docs[250:], emb[250:], seed=3))
    assert len(first["words"]) >= 3  # topics were found: the comparison means something
    assert _outcome(*fit_topics(docs[:250], emb[:250], docs[250:], emb[250:], seed=3)) == first

    (tmp_path / "docs.json").write_text(json.dumps(docs))
    np.save(tmp_path / "emb.npy", emb)
    # another hash seed (set and dict order) and single-threaded BLAS, OpenMP and numba
    env = {**os.environ, "PYTHONHASHSEED": "12345", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", FIT, str(tmp_path / "docs.json"), str(tmp_path / "emb.npy")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == first


def test_the_fingerprint_changes_with_any_part_of_the_input():
    docs, emb = _corpus(60)
    base = fit_fingerprint(docs, emb, 0)
    assert fit_fingerprint(list(docs), emb.copy(), 0) == base
    nudged = emb.copy()
    nudged[0, 0] = np.nextafter(nudged[0, 0], np.float32(1))  # one bit of one embedding
    assert fit_fingerprint(docs, nudged, 0) != base
    assert fit_fingerprint(docs, emb, 1) != base
    assert fit_fingerprint(docs[:-1] + [docs[-1] + " "], emb, 0) != base


def test_repeated_reviews_give_the_same_topics_in_two_processes(tmp_path):
    # Reviews repeat ("Love it!"); exact duplicates split UMAP's neighbour graph into many
    # components, where its spectral start differed from process to process (41 and 45 topics
    # on 3,000 such rows): the layout starts from PCA instead.
    docs, emb = _corpus()
    picks = np.random.default_rng(1).integers(0, 60, size=300)
    docs = [docs[i] for i in picks]
    emb = emb[picks]
    (tmp_path / "docs.json").write_text(json.dumps(docs))
    np.save(tmp_path / "emb.npy", emb)
    runs = []
    for hash_seed in ("1", "2"):
        run = subprocess.run([sys.executable, "-c", FIT, str(tmp_path / "docs.json"), str(tmp_path / "emb.npy")],
                             capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": hash_seed},
                             timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        runs.append(json.loads(run.stdout.strip().splitlines()[-1]))
    assert len(runs[0]["words"]) >= 2
    assert runs[0] == runs[1]


LIGHT = """
import json, sys
import numpy as np
from affectkit.reviews.topics import fit_topics
docs = json.load(open(sys.argv[1]))
emb = np.load(sys.argv[2])
result, others = fit_topics(docs[:250], emb[:250], docs[250:], emb[250:], seed=3)
from affectkit.reviews._libs import LEFT_OUT
print(json.dumps({"assignments": result.assignments.tolist(), "words": {str(k): v for k, v in result.words.items()},
                  "loaded": sorted(m for m in LEFT_OUT if m in sys.modules)}))
"""


def test_topics_load_no_deep_learning_backend_and_compile_once_per_machine(tmp_path):
    # BERTopic imports torch, transformers and sentence-transformers for backends the job never uses,
    # and UMAP compiles its numba functions in every process: neither may happen in the topic stage.
    docs, emb = _corpus()
    (tmp_path / "docs.json").write_text(json.dumps(docs))
    np.save(tmp_path / "emb.npy", emb)
    cache = tmp_path / "numba-cache"
    runs = []
    for _ in range(2):
        run = subprocess.run([sys.executable, "-c", LIGHT, str(tmp_path / "docs.json"), str(tmp_path / "emb.npy")],
                             capture_output=True, text=True, env={**os.environ, "NUMBA_CACHE_DIR": str(cache)},
                             timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        runs.append(json.loads(run.stdout.strip().splitlines()[-1]))
        if not runs[1:]:  # after the first process: UMAP's compiled functions are on disk
            assert any(p.name.startswith("umap_") and p.suffix == ".nbi" for p in cache.rglob("*.nbi"))
    assert runs[0]["loaded"] == [] and runs[1]["loaded"] == []
    assert len(runs[0]["words"]) >= 3
    assert runs[0] == runs[1]  # the cached code gives the same topics


def test_the_light_import_reports_backends_missing_only_to_its_own_thread():
    import threading

    from affectkit.reviews._libs import _ReportMissing

    finder = _ReportMissing(frozenset({"torch"}))
    with pytest.raises(ModuleNotFoundError, match="torch"):
        finder.find_spec("torch.nn")
    assert finder.find_spec("numpy") is None
    seen = []
    other = threading.Thread(target=lambda: seen.append(finder.find_spec("torch")))
    other.start()
    other.join()
    assert seen == [None]  # another thread's import goes on to the real finders
