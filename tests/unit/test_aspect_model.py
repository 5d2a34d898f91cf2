"""The trained aspect model: tags, offsets, the shipped model's verdicts, one pass, training and export."""

import json
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import affectkit
from affectkit.aspects import AspectAnalyzer, analyze_aspects
from affectkit.aspects.model import AspectModel
from affectkit.aspects.tags import decode_tags, token_tags
from affectkit.cli.main import app
from affectkit.exceptions import InvalidInputError
from affectkit.text.normalize import normalize_for_transformer, normalize_with_offsets

SEED = "The product works great but delivery was delayed"


# -- tags and offsets (no model) ---------------------------------------------------------------------
def test_bio_tags_round_trip_to_whole_words():
    text = "the battery life is great"
    # word pieces: [CLS] the batt ##ery life is great [SEP]
    offsets = [(0, 0), (0, 3), (4, 8), (8, 11), (12, 16), (17, 19), (20, 25), (0, 0)]
    special = [1, 0, 0, 0, 0, 0, 0, 1]
    tags = token_tags(offsets, special, [(4, 16, "positive")], text)
    assert tags.tolist() == [-100, 0, 1, -100, 2, 0, 0, -100]  # tags on the first piece of each word
    assert decode_tags(np.maximum(tags, 0), offsets, special, text) == [(4, 16)]
    # an I without a B starts a term; a word's later pieces are not read; spans cover whole words
    assert decode_tags(np.array([0, 0, 2, 1, 0, 0, 1, 0]), offsets, special, text) == [(4, 11), (20, 25)]



def test_decoded_spans_do_not_start_or_end_with_a_function_word():
    text = "the price of the wine for us"
    # words: the price of the wine for us (one piece each)
    offsets = [(0, 0), (0, 3), (4, 9), (10, 12), (13, 16), (17, 21), (22, 25), (26, 28), (0, 0)]
    special = [1, 0, 0, 0, 0, 0, 0, 0, 1]
    # "price of" -> "price"; "the wine" -> "wine"; "for" alone is no term
    assert decode_tags(np.array([0, 0, 1, 2, 1, 2, 1, 0, 0]), offsets, special, text) == [(4, 9), (17, 21)]
    # a function word inside a term stays: "price of the wine"
    assert decode_tags(np.array([0, 0, 1, 2, 2, 2, 0, 0, 0]), offsets, special, text) == [(4, 21)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list("ab _@.:/\n\tw") + ["😍", "👍🏽", "http://x.y", "www.z", "@bob"]), max_size=20))
def test_normalisation_with_offsets_is_the_normalisation(pieces):
    text = "".join(pieces)
    norm, spans = normalize_with_offsets(text)
    assert norm == normalize_for_transformer(text)
    assert len(spans) == len(norm)
    assert all(0 <= a <= b <= len(text) for a, b in spans)


def test_offsets_map_words_back_to_the_raw_text():
    raw = "Love  the fit 😍 see http://x.co/a"
    norm, spans = normalize_with_offsets(raw)
    i = norm.index("fit")
    assert raw[spans[i][0] : spans[i + 2][1]] == "fit"


# -- the shipped model -------------------------------------------------------------------------------
def test_seed_sentence_given_aspects():
    r = analyze_aspects(SEED, aspects=["product", "delivery", "battery"])
    by = {v.aspect: v for v in r.aspects}
    assert by["product"].polarity == "positive" and by["product"].method == "model"
    assert by["delivery"].polarity == "negative"
    assert by["battery"].found is False and by["battery"].polarity is None
    assert r.summary["mixed"] is True


def test_extracted_terms_have_spans_in_the_text():
    text = "The pasta was excellent but the waiter was rude and slow."
    r = analyze_aspects(text)
    terms = {text[v.start : v.end]: v.polarity for v in r.aspects}
    assert terms.get("pasta") == "positive" and terms.get("waiter") == "negative"
    assert all(v.source == "extracted" and v.method == "model" for v in r.aspects)


def test_categories_of_a_review_that_names_no_term():
    r = analyze_aspects("We waited forty minutes and nobody even said sorry.")
    cats = {c.category: c for c in r.categories}
    assert "service" in cats and cats["service"].polarity == "negative"
    assert all(0.5 <= c.probability <= 1 for c in r.categories)
    assert json.loads(json.dumps(r.to_dict()))["categories"]


def test_long_texts_are_read_in_pieces_and_spans_map_back():
    text = " ".join(["The soup was cold and the bread was stale."] * 40) + " But the dessert was wonderful."
    r = analyze_aspects(text, aspects=["dessert"])
    (v,) = [v for v in r.aspects if v.found]
    assert text[v.start : v.end].lower() == "dessert" and v.polarity == "positive"
    terms = analyze_aspects(text).aspects
    assert len(terms) > 40 and all(text[t.start : t.end] for t in terms)


@pytest.mark.parametrize("text", ["", "   ", "😍😍😍", "\x00\x01", "a"])
def test_bad_input_gets_a_clear_result(text):
    r = analyze_aspects(text)
    assert r.summary["n_aspects"] == len(r.aspects) and all(r.text[v.start : v.end] for v in r.aspects)
    if not r.text.strip():
        assert "empty text" in r.notes and not r.aspects
    else:
        assert r.aspects or "no aspects found" in r.notes


def test_one_pass_gives_the_sentence_models_scores():
    texts = ["I love it", SEED, "meh. " * 200, "Great fit 😍", ""]
    live = [t for t in texts if t]
    analyses, scores = AspectAnalyzer("sentiment").analyze_all(live)
    reference = affectkit.load("sentiment").predict_all(live)
    for head in ("sentiment", "emotion"):
        np.testing.assert_allclose(scores[head], reference[head], atol=1e-6)
    assert len(analyses) == len(live)


def test_methods_and_errors():
    clauses = analyze_aspects(SEED, method="clauses")
    assert {v.method for v in clauses.aspects} == {"clauses"}
    assert {v.method for v in analyze_aspects(SEED, analyzer="lexicon").aspects} == {"clauses"}
    with pytest.raises(InvalidInputError, match="method='clauses'"):
        analyze_aspects(SEED, analyzer="lexicon", method="model")
    with pytest.raises(InvalidInputError, match="'method' parameter"):
        analyze_aspects(SEED, method="graph")


def test_aspect_model_refuses_a_directory_that_is_not_one(tmp_path):
    from affectkit.exceptions import ModelFormatError

    with pytest.raises(ModelFormatError, match="not an aspect model directory"):
        AspectModel(tmp_path).run(["text"])


# -- training, export, evaluation --------------------------------------------------------------------
XML_2014 = textwrap.dedent("""\
    <?xml version="1.0" encoding="UTF-8"?>
    <sentences>
    {rows}
    </sentences>
    """)


def _sentence(i: int, text: str, terms: list[tuple[str, str]], cat: tuple[str, str] | None = None) -> str:
    parts = []
    for term, pol in terms:
        s = text.index(term)
        parts.append(f'<aspectTerm term="{term}" polarity="{pol}" from="{s}" to="{s + len(term)}"/>')
    cats = f'<aspectCategories><aspectCategory category="{cat[0]}" polarity="{cat[1]}"/></aspectCategories>' if cat else ""
    return f'<sentence id="{i}"><text>{text}</text><aspectTerms>{"".join(parts)}</aspectTerms>{cats}</sentence>'


def _write_xml(path, n=40):
    rows = []
    for i in range(n):
        good = i % 2 == 0
        dish = ("soup", "pasta", "salad", "curry")[i % 4]
        text = f"The {dish} was {'lovely' if good else 'awful'} and the staff were {'kind' if i % 3 else 'rude'}."
        rows.append(_sentence(i, text, [(dish, "positive" if good else "negative"),
                                        ("staff", "positive" if i % 3 else "negative")],
                              ("food", "positive" if good else "negative")))
    path.write_text(XML_2014.format(rows="\n".join(rows)), encoding="utf-8")
    return path


def test_read_semeval_2016_opinions_and_conflict(tmp_path):
    from affectkit.train.aspects import read_semeval

    xml = tmp_path / "r16.xml"
    xml.write_text(
        '<Reviews><Review rid="1"><sentences><sentence id="1:0"><text>Nice fish, slow bar.</text><Opinions>'
        '<Opinion target="fish" category="FOOD#QUALITY" polarity="positive" from="5" to="9"/>'
        '<Opinion target="fish" category="FOOD#PRICES" polarity="negative" from="5" to="9"/>'
        '<Opinion target="NULL" category="SERVICE#GENERAL" polarity="negative" from="0" to="0"/>'
        '</Opinions></sentence></sentences></Review></Reviews>', encoding="utf-8")
    (s,) = read_semeval(xml)
    assert s.terms == [(5, 9, "conflict")]
    assert s.categories == {"FOOD#QUALITY": "positive", "FOOD#PRICES": "negative", "SERVICE#GENERAL": "negative"}
    assert s.category_set == "2016"


def test_train_export_and_use_a_small_aspect_model(tmp_path):
    pytest.importorskip("torch")
    xml = _write_xml(tmp_path / "train.xml")
    runner = CliRunner()
    res = runner.invoke(app, ["train", str(xml), "--arch", "aspect-gnn", "--out", str(tmp_path / "m"), "--epochs", "1"])
    assert res.exit_code == 0, res.output
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["arch"] == "aspect-gnn" and config["trunk"] == "affect-transformer-v1"
    assert (tmp_path / "m" / "README.md").is_file()
    r = AspectAnalyzer("sentiment", aspect_model=str(tmp_path / "m")).analyze(SEED, aspects=["product"])
    (v,) = r.aspects
    assert v.method == "model" and set(v.scores) == {"negative", "neutral", "positive"}
    assert abs(sum(v.scores.values()) - 1) < 1e-5
    with pytest.raises(InvalidInputError, match="aspect model"):
        AspectAnalyzer("lexicon", aspect_model=str(tmp_path / "m")).analyze(SEED)


def test_evaluate_reports_the_model_beside_rules_and_clauses(tmp_path):
    xml = _write_xml(tmp_path / "val.xml", n=12)
    res = CliRunner().invoke(app, ["evaluate", "--data", str(xml), "--models", "sentiment,lexicon", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.output)
    assert set(obj["extraction_model"]) >= {"precision", "recall", "f1"}
    assert {"sentence", "clause", "model"} <= set(obj["polarity"]["sentiment"])
    assert "model" not in obj["polarity"]["lexicon"]
    assert obj["polarity"]["sentiment"]["model"]["accuracy"] >= 0.75


def test_runs_of_one_recipe_are_averaged(tmp_path):
    torch = pytest.importorskip("torch")
    from affectkit.train.aspects import average_checkpoints

    a, b = {"w": torch.tensor([1.0, 3.0]), "n": torch.tensor(7)}, {"w": torch.tensor([3.0, 5.0]), "n": torch.tensor(7)}
    torch.save(a, tmp_path / "a.pt")
    torch.save(b, tmp_path / "b.pt")
    soup = torch.load(average_checkpoints([tmp_path / "a.pt", tmp_path / "b.pt"], tmp_path / "s.pt"))
    assert soup["w"].tolist() == [2.0, 4.0] and soup["n"].item() == 7
    torch.save({"v": torch.zeros(2)}, tmp_path / "c.pt")
    with pytest.raises(InvalidInputError, match="same weights"):
        average_checkpoints([tmp_path / "a.pt", tmp_path / "c.pt"], tmp_path / "x.pt")

    xml = _write_xml(tmp_path / "train.xml", n=24)
    res = CliRunner().invoke(app, ["train", str(xml), "--arch", "aspect", "--out", str(tmp_path / "m"),
                                   "--epochs", "1", "--runs", "2"])
    assert res.exit_code == 0, res.output
    assert "run 2/2" in res.output and "average:" in res.output
    card = json.loads((tmp_path / "m" / "config.json").read_text())["card"]
    assert card["runs"] == 2 and len(card["validation of each run (last epoch)"]) == 2
    assert card["recipe"]["lr"] == 8e-5 and card["epochs"] == 1  # the aspect recipe's own learning rate
    assert "weights averaged" in (tmp_path / "m" / "README.md").read_text()



def test_marked_aspect_model_reads_the_sentence_once_more_per_term(tmp_path):
    pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    xml = _write_xml(tmp_path / "train.xml", n=24)
    res = CliRunner().invoke(app, ["train", str(xml), "--arch", "aspect-marked", "--out", str(tmp_path / "m"),
                                   "--epochs", "1"])
    assert res.exit_code == 0, res.output
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["arch"] == "aspect-marked" and config["marked"] is True
    assert "term marked" in (tmp_path / "m" / "README.md").read_text()
    session = ort.InferenceSession(str(tmp_path / "m" / "aspects.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["hidden_states", "attention_mask", "aspect_mask"]
    # the mark changes what the branch reads
    h = np.random.default_rng(0).normal(size=(1, 8, session.get_inputs()[0].shape[2] or 384)).astype(np.float32)
    m = np.ones((1, 8), dtype=np.int64)
    a = np.zeros((1, 8), dtype=np.float32)
    plain = session.run(["context"], {"hidden_states": h, "attention_mask": m, "aspect_mask": a})[0]
    a[0, 2:4] = 1.0
    marked = session.run(["context"], {"hidden_states": h, "attention_mask": m, "aspect_mask": a})[0]
    assert not np.allclose(plain, marked)
    # given and extracted terms get a polarity each, from their own marked pass
    model = AspectModel(tmp_path / "m")
    text = "The soup was lovely and the staff were rude."
    spans = [(text.index("soup"), text.index("soup") + 4), (text.index("staff"), text.index("staff") + 5)]
    (p,) = model.run([text], given=[spans])
    given_terms = [t for t in p.terms if not t.extracted]
    assert [(t.start, t.end) for t in given_terms] == spans
    for t in given_terms:
        assert abs(sum(t.scores.values()) - 1) < 1e-5
    assert given_terms[0].scores != given_terms[1].scores
    r = AspectAnalyzer("sentiment", aspect_model=str(tmp_path / "m")).analyze(SEED, aspects=["product", "delivery"])
    assert [v.method for v in r.aspects] == ["model", "model"]
