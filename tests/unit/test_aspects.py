import json

import pytest
from typer.testing import CliRunner

import affectkit
from affectkit.aspects import AspectAnalyzer, RuleAspectExtractor, analyze_aspects
from affectkit.cli.main import app
from affectkit.exceptions import InvalidInputError

SEED = "The product works great but delivery was delayed"


@pytest.mark.parametrize("model", ["sentiment", "classic", "lexicon"])
def test_seed_sentence(model):
    # the clause method (the default transformer uses the aspect model unless told otherwise:
    # tests/unit/test_aspect_model.py)
    r = analyze_aspects(SEED, analyzer=model, method="clauses")
    got = {v.aspect: v for v in r.aspects}
    assert got["product"].polarity == "positive" and (got["product"].start, got["product"].end) == (4, 11)
    assert got["delivery"].polarity == "negative" and SEED[got["delivery"].start : got["delivery"].end] == "delivery"
    assert r.summary["mixed"] is True


def test_extractor_patterns():
    x = RuleAspectExtractor()

    def terms(t):
        return [t[s:e] for s, e in x.extract(t)]

    assert terms("The battery life is amazing and the screen is crisp.") == ["battery life", "screen"]
    assert terms("Food was great, terrible service though.") == ["Food", "service"]
    assert terms("I love the sushi here and their miso soup") == ["sushi", "miso soup"]
    assert terms("It was a great time") == []  # generic nouns are not aspects


def test_given_aspects_and_categories():
    r = analyze_aspects("Cheap and cheerful, but the shipping took forever", analyzer="classic",
                        aspects=["price", "shipping", "battery"])
    by = {}
    for v in r.aspects:
        by.setdefault(v.aspect, v)
    assert by["price"].found and "category" in by["price"].note
    assert by["shipping"].found and by["shipping"].source == "given"
    assert not by["battery"].found and by["battery"].polarity is None and "not mentioned" in by["battery"].note


def test_bad_input_is_clear():
    a = AspectAnalyzer("classic")
    empty = a.analyze("")
    assert empty.aspects == () and "empty text" in empty.notes
    none = a.analyze("hello there")
    assert none.aspects == () and "no aspects found" in none.notes
    assert a.analyze(["", "the food was fine"])[1].aspects
    with pytest.raises(InvalidInputError, match="holds no aspect names"):
        a.analyze("text", aspects=[" ", ""])
    with pytest.raises(InvalidInputError, match="single-label sentiment analyzer"):
        AspectAnalyzer("emotion").analyze("the food")
    with pytest.raises(InvalidInputError, match="'extractor'"):
        AspectAnalyzer("classic", extractor="magic").analyze("the food")


def test_custom_extractor():
    class Fixed:
        def extract(self, text):
            return [(0, 3)]

    r = AspectAnalyzer("classic", extractor=Fixed()).analyze("Wow that was bad")
    assert r.aspects[0].aspect == "Wow"


def test_cli_aspects_json():
    result = CliRunner().invoke(app, ["aspects", SEED, "--json", "-m", "classic"])
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    assert {a["aspect"]: a["polarity"] for a in obj["aspects"]} == {"product": "positive", "delivery": "negative"}


def test_cli_aspects_given_and_table():
    result = CliRunner().invoke(app, ["aspects", SEED, "--aspects", "delivery,price", "-m", "classic"])
    assert result.exit_code == 0, result.output
    assert "delivery" in result.stdout and "not mentioned" in result.stdout


def test_model_is_loaded_once_per_analyzer(monkeypatch):
    import affectkit.aspects.analyze

    calls = []
    real = affectkit.aspects.analyze.load
    monkeypatch.setattr(affectkit.aspects.analyze, "load", lambda name, **kw: calls.append(name) or real(name, **kw))
    a = AspectAnalyzer("classic")
    a.analyze("the food was good")
    a.analyze("the service was slow")
    assert calls == ["classic"]
    a.analyzer = "lexicon"  # a new parameter value is honoured
    assert a.analyze(SEED).aspects[0].polarity == "positive"
    assert calls == ["classic", "lexicon"]


def test_verdicts_without_clause_scores_are_the_same_for_less_work():
    import affectkit

    model = affectkit.load("classic")
    seen: list[int] = []
    real = model.predict_proba
    model.predict_proba = lambda texts: seen.append(len(texts)) or real(texts)
    texts = [SEED, "Great screen, poor battery, and the keyboard feels cheap; the price though is fair.", ""]
    full = AspectAnalyzer(model).analyze(texts)
    lean = AspectAnalyzer(model).analyze(texts, clause_scores=False)
    assert [[v.to_dict() for v in r.aspects] for r in lean] == [[v.to_dict() for v in r.aspects] for r in full]
    assert lean[0].clauses == () and lean[0].summary["document"] is None
    assert full[0].summary["document"] is not None
    assert seen[1] < seen[0]


def test_polarity_scores_report_the_mixed_subset():
    """Sentences whose gold aspects disagree are scored apart; there one verdict per sentence cannot be right."""
    from affectkit.aspects.evaluation import polarity_scores
    from affectkit.datasets import AbsaSentence

    def sentence(text, *aspects):
        return AbsaSentence(text, [(term, text.index(term), text.index(term) + len(term), pol) for term, pol in aspects])

    sentences = [
        sentence("The pasta was wonderful but the waiter was rude.", ("pasta", "positive"), ("waiter", "negative")),
        sentence("The screen is gorgeous.", ("screen", "positive")),
        sentence("The battery died after an hour and the charger is flimsy.", ("battery", "negative"), ("charger", "negative")),
        sentence("The keyboard is terrible, although the trackpad is superb.", ("keyboard", "negative"), ("trackpad", "positive"),
                 ("is", "conflict")),
    ]
    scores = polarity_scores(sentences, affectkit.load("lexicon"))
    assert scores["sentence"]["n"] == scores["clause"]["n"] == 7  # 'conflict' is left out
    mixed = scores["mixed"]
    assert mixed["sentence"]["n"] == mixed["clause"]["n"] == 4
    # one verdict per sentence gets at most one of each contrasted pair right; the clauses get them all
    assert mixed["sentence"]["accuracy"] <= 0.5
    assert mixed["clause"]["accuracy"] == 1.0
    # no sentence disagrees: the subset is empty, its scores None (valid JSON), not NaN or a crash
    agree = polarity_scores(sentences[1:3], affectkit.load("lexicon"))["mixed"]
    assert agree["clause"] == {"accuracy": None, "macro_f1": None, "n": 0}
    assert json.loads(json.dumps(agree, allow_nan=False)) == agree


# -- SemEval XML files given by path (both formats), as `affectkit evaluate --data file.xml` reads them
XML_2014 = """<?xml version="1.0" encoding="UTF-8"?>
<sentences>
  <sentence id="1"><text>The pasta was lovely but the waiter was rude.</text>
    <aspectTerms><aspectTerm term="pasta" polarity="positive" from="4" to="9"/>
      <aspectTerm term="waiter" polarity="negative" from="29" to="35"/></aspectTerms></sentence>
  <sentence id="2"><text>We ordered the menu of the day.</text>
    <aspectTerms><aspectTerm term="menu of the day" polarity="neutral" from="15" to="30"/></aspectTerms></sentence>
  <sentence id="3"><text>Nothing else to say.</text></sentence>
</sentences>
"""
XML_2016 = """<?xml version="1.0" encoding="UTF-8"?>
<Reviews><Review rid="1"><sentences>
  <sentence id="1:0"><text>The pasta was lovely but the waiter was rude.</text><Opinions>
    <Opinion target="pasta" category="FOOD#QUALITY" polarity="positive" from="4" to="9"/>
    <Opinion target="waiter" category="SERVICE#GENERAL" polarity="negative" from="29" to="35"/>
    <Opinion target="waiter" category="SERVICE#STYLE" polarity="negative" from="29" to="35"/>
    <Opinion target="NULL" category="RESTAURANT#GENERAL" polarity="positive" from="0" to="0"/></Opinions></sentence>
  <sentence id="1:1"><text>The bread was warm, the bread was stale.</text><Opinions>
    <Opinion target="bread" category="FOOD#QUALITY" polarity="positive" from="4" to="9"/>
    <Opinion target="bread" category="FOOD#STYLE_OPTIONS" polarity="negative" from="4" to="9"/></Opinions></sentence>
</sentences></Review></Reviews>
"""


def test_semeval_xml_files_in_both_formats(tmp_path):
    from affectkit.datasets import load_absa

    (tmp_path / "a.xml").write_text(XML_2014, encoding="utf-8")
    (tmp_path / "b.xml").write_text(XML_2016, encoding="utf-8")
    s14 = load_absa(tmp_path / "a.xml")
    assert [s.aspects for s in s14] == [[("pasta", 4, 9, "positive"), ("waiter", 29, 35, "negative")],
                                        [("menu of the day", 15, 30, "neutral")], []]
    s16 = load_absa(str(tmp_path / "b.xml"))
    # target-less opinions are left out; two opinions on one span count once, 'conflict' when they disagree
    assert [s.aspects for s in s16] == [[("pasta", 4, 9, "positive"), ("waiter", 29, 35, "negative")],
                                        [("bread", 4, 9, "conflict")]]


def test_cli_evaluates_an_xml_file_by_path(tmp_path):
    path = tmp_path / "mine.xml"
    path.write_text(XML_2014, encoding="utf-8")
    result = CliRunner().invoke(app, ["evaluate", "--data", str(path), "--models", "lexicon", "--json"])
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    assert obj["n_sentences"] == 3 and obj["n_aspects"] == 3
    assert set(obj["extraction"]) >= {"precision", "recall", "f1"}
    lexicon = obj["polarity"]["lexicon"]
    assert lexicon["sentence"]["n"] == 3 and lexicon["mixed"]["sentence"]["n"] == 2
    assert lexicon["clause"]["accuracy"] >= lexicon["sentence"]["accuracy"]


def test_cli_rejects_xml_without_aspect_terms(tmp_path):
    path = tmp_path / "categories.xml"
    path.write_text('<Reviews><Review><sentences><sentence id="1"><text>Fine.</text><Opinions>'
                    '<Opinion category="LAPTOP#GENERAL" polarity="positive"/></Opinions></sentence>'
                    '</sentences></Review></Reviews>', encoding="utf-8")
    result = CliRunner().invoke(app, ["evaluate", "--data", str(path), "--models", "lexicon"])
    assert result.exit_code == 2 and "no aspect terms" in " ".join(result.output.split())
    missing = CliRunner().invoke(app, ["evaluate", "--data", str(tmp_path / "nope.xml"), "--models", "lexicon"])
    assert missing.exit_code == 2 and "does not exist" in " ".join(missing.output.split())
