"""Model directories under hostile load: parts stay inside the directory, nesting is bounded, and a
vocabulary that does not match its weights is refused when the model is loaded (issue 19, item 9)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import affectkit
from affectkit.analyzers.classic import ClassicAnalyzer
from affectkit.analyzers.ensemble import EnsembleAnalyzer
from affectkit.exceptions import ModelFormatError
from conftest import SENTIMENT_TEXTS, SENTIMENT_Y, TINY_FEATURES

TEXTS = ["What a lovely surprise", "This is broken again", "The shop is on Main Street"]


@pytest.fixture(scope="module")
def classic():
    return ClassicAnalyzer(features=TINY_FEATURES).fit(SENTIMENT_TEXTS, SENTIMENT_Y)


@pytest.fixture
def ensemble_dir(tmp_path, classic):
    """An ensemble saved with one member in members/0 and one registered name; a victim model beside it."""
    EnsembleAnalyzer([classic, "lexicon"]).save(tmp_path / "ens")
    classic.save(tmp_path / "victim")
    return tmp_path / "ens"


def _set_members(path: Path, members: list) -> None:
    config = json.loads((path / "config.json").read_text())
    config["params"]["members"] = members
    (path / "config.json").write_text(json.dumps(config))


def test_saved_ensemble_loads(ensemble_dir):
    config = json.loads((ensemble_dir / "config.json").read_text())
    assert config["params"]["members"] == [{"path": "members/0"}, {"name": "lexicon"}]
    assert affectkit.load(ensemble_dir).predict_proba(TEXTS).shape == (3, 3)


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"path": "../victim"}, "climbs out with '..'"),
        ({"path": "members/../../victim"}, "climbs out with '..'"),
        ({"path": "ABS"}, "an absolute path"),
        ({"path": "."}, "the model directory itself"),
        ({"path": "members/0/.."}, "climbs out with '..'"),
        ({"path": ""}, "expected the relative path of a folder"),
        ({"path": 3}, "expected the relative path of a folder"),
        ({"path": "members/9"}, "not a folder inside"),
        ({"name": "../victim"}, "not a registered model name"),
        ({"name": "ABS"}, "not a registered model name"),
        ({"name": "hf:../victim"}, "not a registered model name"),
        ({"name": "ensemble:lexicon+../victim"}, "not a registered model name"),
        ({"name": "lexicon", "path": "members/0"}, "expected {\"name\""),
        ("lexicon", "expected {\"name\""),
    ],
)
def test_member_paths_stay_inside_the_directory(ensemble_dir, entry, words):
    victim = str(ensemble_dir.parent / "victim")
    if isinstance(entry, dict):
        entry = {k: (victim if v == "ABS" else v) for k, v in entry.items()}
    _set_members(ensemble_dir, [entry, {"name": "lexicon"}])
    with pytest.raises(ModelFormatError) as info:
        affectkit.load(ensemble_dir)
    message = str(info.value)
    assert words in message
    assert "config.json" in message and "params.members[0]" in message
    assert "save" in message.lower()  # the fix


def test_symlinks_out_of_the_directory_and_onto_itself_are_refused(ensemble_dir):
    shutil.rmtree(ensemble_dir / "members" / "0")
    os.symlink(ensemble_dir.parent / "victim", ensemble_dir / "members" / "0")
    with pytest.raises(ModelFormatError, match="leads outside"):
        affectkit.load(ensemble_dir)
    os.unlink(ensemble_dir / "members" / "0")
    os.symlink(ensemble_dir, ensemble_dir / "members" / "0")  # a cycle: the member is the ensemble
    with pytest.raises(ModelFormatError, match="the model directory itself"):
        affectkit.load(ensemble_dir)


def test_cycle_through_a_nested_member_is_refused(ensemble_dir, classic):
    inner = ensemble_dir / "members" / "0"
    shutil.rmtree(inner)
    EnsembleAnalyzer([classic, "lexicon"]).save(inner)
    shutil.rmtree(inner / "members" / "0")
    os.symlink(ensemble_dir, inner / "members" / "0")  # the inner ensemble's member is the outer one
    with pytest.raises(ModelFormatError, match="leads outside"):
        affectkit.load(ensemble_dir)


def test_deeply_nested_model_directories_are_refused(tmp_path, classic):
    from affectkit.registry import MAX_NESTED_MODELS

    top = tmp_path / "chain"
    here = top
    for _ in range(MAX_NESTED_MODELS + 4):  # each level an ensemble whose member 0 is the next level
        here.mkdir(parents=True)
        config = {"format": "affectkit-model", "format_version": 1, "analyzer": "ensemble",
                  "params": {"members": [{"path": "members/0"}, {"name": "lexicon"}]}}
        (here / "config.json").write_text(json.dumps(config))
        here = here / "members" / "0"
    classic.save(here)
    with pytest.raises(ModelFormatError, match=f"more than {MAX_NESTED_MODELS} deep") as info:
        affectkit.load(top)
    assert str(top) in str(info.value)


def test_deeply_nested_config_json_is_a_clear_error(ensemble_dir):
    config = json.loads((ensemble_dir / "config.json").read_text())
    config["card"] = {"x": 1}
    text = json.dumps(config).replace('{"x": 1}', '{"x": ' * 100 + "1" + "}" * 100)
    (ensemble_dir / "config.json").write_text(text)
    with pytest.raises(ModelFormatError, match="more than 64 levels") as info:
        affectkit.load(ensemble_dir)
    assert "config.json" in str(info.value) and "card.x.x" in str(info.value)
    (ensemble_dir / "config.json").write_text("[" * 200_000 + "]" * 200_000)  # past Python's own limit
    with pytest.raises(ModelFormatError, match="config.json nests its JSON"):
        affectkit.load(ensemble_dir)
    # a member's config too
    (ensemble_dir / "config.json").unlink()
    (ensemble_dir / "members" / "0" / "vocab.json").write_text('{"word": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(ModelFormatError, match="vocab.json nests its JSON"):
        affectkit.load(ensemble_dir / "members" / "0")


def test_deeply_nested_ensemble_config_file(tmp_path):
    from affectkit.exceptions import InvalidInputError

    (tmp_path / "ens.json").write_text('{"members": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(InvalidInputError, match="nests its JSON"):
        affectkit.load(str(tmp_path / "ens.json"))


def test_saving_a_member_given_as_a_path_keeps_it_inside(tmp_path, classic, monkeypatch):
    """A member given by a config file's path is saved into the ensemble, not stored as a name."""
    classic.save(tmp_path / "mine")
    (tmp_path / "inner.json").write_text(json.dumps({"members": ["lexicon", "mine"]}))
    monkeypatch.chdir(tmp_path)
    EnsembleAnalyzer(["inner.json", "lexicon"]).save(tmp_path / "ens")
    config = json.loads((tmp_path / "ens" / "config.json").read_text())
    assert config["params"]["members"] == [{"path": "members/0"}, {"name": "lexicon"}]
    monkeypatch.chdir(tmp_path / "ens")  # loads from anywhere
    assert affectkit.load(tmp_path / "ens").predict_proba(TEXTS).shape == (3, 3)


@pytest.mark.parametrize(
    ("base", "words"),
    [({"dir": "../victim"}, "climbs out"), ({"dir": "."}, "itself"), ({"name": "VICTIM"}, "not a registered")],
)
def test_calibrated_base_stays_inside(tmp_path, classic, base, words):
    from affectkit.analyzers.calibrated import CalibratedAnalyzer

    CalibratedAnalyzer(classic).fit(SENTIMENT_TEXTS, SENTIMENT_Y).save(tmp_path / "cal")
    classic.save(tmp_path / "victim")
    assert json.loads((tmp_path / "cal" / "config.json").read_text())["base"] == {"dir": "base"}
    config = json.loads((tmp_path / "cal" / "config.json").read_text())
    config["base"] = {k: (str(tmp_path / "victim") if v == "VICTIM" else v) for k, v in base.items()}
    (tmp_path / "cal" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFormatError, match=words):
        affectkit.load(tmp_path / "cal")


# -- vocabularies that do not match the weights ---------------------------------------------------
def test_classic_vocab_must_match_weights(tmp_path, classic):
    classic.save(tmp_path / "m")
    vocab = json.loads((tmp_path / "m" / "vocab.json").read_text())
    np.testing.assert_array_equal(affectkit.load(tmp_path / "m").predict_proba(TEXTS), classic.predict_proba(TEXTS))
    (tmp_path / "m" / "vocab.json").write_text(json.dumps({"word": vocab["word"][:-1], "char": vocab["char"]}))
    with pytest.raises(ModelFormatError, match="does not match the weights") as info:
        affectkit.load(tmp_path / "m")
    assert "vocab.json" in str(info.value) and "idf_word" in str(info.value)


def test_classic_head_width_must_match(tmp_path, classic):
    classic.save(tmp_path / "m")
    with np.load(tmp_path / "m" / "weights.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["head_W"] = arrays["head_W"][:-5]
    np.savez(tmp_path / "m" / "weights.npz", **arrays)
    with pytest.raises(ModelFormatError, match="does not match the weights"):
        affectkit.load(tmp_path / "m")


def test_classic_tree_vocab_checked(tmp_path, tiny_models):
    tree = tiny_models["tiny-sentiment-tree"]
    tree.save(tmp_path / "t")
    np.testing.assert_array_equal(affectkit.load(tmp_path / "t").predict_proba(TEXTS), tree.predict_proba(TEXTS))
    config = json.loads((tmp_path / "t" / "config.json").read_text())
    config["n_features"] += 1
    (tmp_path / "t" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFormatError, match="n_features"):
        affectkit.load(tmp_path / "t")


@pytest.mark.parametrize("fixture", ["tiny_bilstm", "tiny_textcnn"])
def test_neural_vocab_must_match_embedding(tmp_path, request, fixture):
    model = next(iter(request.getfixturevalue(fixture).values()))
    model.save(tmp_path / "m")
    np.testing.assert_allclose(affectkit.load(tmp_path / "m").predict_proba(TEXTS), model.predict_proba(TEXTS))
    vocab_path = tmp_path / "m" / "vocab.json"
    vocab = json.loads(vocab_path.read_text())
    for words in (vocab["words"][:-3], vocab["words"] + ["zzzextra"]):
        vocab_path.write_text(json.dumps({**vocab, "words": words}))
        with pytest.raises(ModelFormatError, match="does not match the weights") as info:
            affectkit.load(tmp_path / "m")
        assert "vocab.json" in str(info.value) and "model.onnx" in str(info.value)
        assert f"has {len(words)} words" in str(info.value)
    vocab_path.write_text(json.dumps({**vocab, "words": vocab["words"][:-1] + vocab["words"][:1]}))
    with pytest.raises(ModelFormatError, match="distinct strings"):
        affectkit.load(tmp_path / "m")


def test_neural_embedding_rows_read_from_the_graph(tiny_bilstm):
    from affectkit._runtime import onnx_embedding_rows

    model = tiny_bilstm["tiny-bilstm-sentiment"]
    assert onnx_embedding_rows(model.onnx_) == len(model.vocab_) + 2
    assert onnx_embedding_rows(b"not an onnx file") is None


def _transformer_copy(tmp_path: Path, vocab_size: int | None) -> Path:
    """The shipped transformer's directory, with a WordLevel tokenizer of ``vocab_size`` tokens
    (``None``: its own tokenizer)."""
    from affectkit.registry import shipped_model_path

    src = shipped_model_path("affect-transformer-v1")
    if not (src / "model.onnx").is_file():
        pytest.skip("the shipped transformer model is not installed")
    out = tmp_path / "tf"
    out.mkdir()
    for name in ("config.json", "tokenizer.json"):
        shutil.copyfile(src / name, out / name)
    os.symlink(src / "model.onnx", out / "model.onnx")
    if vocab_size is not None:
        from tokenizers import Tokenizer, models, pre_tokenizers

        vocab = {"[UNK]": 0, **{f"w{i}": i for i in range(1, vocab_size)}}
        tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        tok.save(str(out / "tokenizer.json"))
    return out


def test_transformer_tokenizer_matches(tmp_path):
    path = _transformer_copy(tmp_path, None)
    np.testing.assert_allclose(affectkit.load(path).predict_proba(TEXTS),
                               affectkit.load("sentiment").predict_proba(TEXTS), atol=1e-6)


@pytest.mark.parametrize("size", [30_600, 400])
def test_transformer_tokenizer_of_other_weights_is_refused(tmp_path, size):
    from affectkit.analyzers.transformer import TransformerAnalyzer

    path = _transformer_copy(tmp_path, size)
    with pytest.raises(ModelFormatError, match="does not belong to these weights") as info:
        affectkit.load(path)
    assert f"0 to {size - 1}" in str(info.value) and "30522 rows" in str(info.value)
    with pytest.raises(ModelFormatError, match="does not belong"):  # built from a path: refused when it loads
        TransformerAnalyzer(path=str(path)).predict_proba(TEXTS)


def test_every_model_config_reader_refuses_deep_json_clearly(tmp_path):
    from affectkit.analyzers.hf import _is_affectkit_dir
    from affectkit.aspects.model import _config
    from affectkit.audio.analyzer import _read_config

    (tmp_path / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    for read in (_read_config, _config):
        with pytest.raises(ModelFormatError, match="deep"):
            read(str(tmp_path))
    assert _is_affectkit_dir(tmp_path) is False
