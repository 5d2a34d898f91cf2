"""Topic names: aspect terms ranked by c-TF-IDF, opinion words and filler left out, names a user gives."""

from __future__ import annotations

import json

import numpy as np
import pytest

from affectkit.exceptions import InvalidInputError
from affectkit.reviews.naming import about_terms, check_names, name_topics, read_names

pytest.importorskip("bertopic")


def _cell(*terms: str) -> str:
    return json.dumps([{"aspect": t, "start": 0, "end": len(t), "polarity": "neutral", "probability": 0.5}
                       for t in terms])


def test_terms_come_from_the_aspect_cells_case_folded_once_each():
    texts = ["The Kettle lid broke, the kettle leaks", "Great"]
    got = about_terms(texts, [_cell("Kettle", "lid", "kettle,", '"Lid"'), _cell()])
    assert got == [["kettle", "lid"], []]  # punctuation at a term's ends left off


def test_opinion_words_verbs_and_generic_nouns_are_not_topic_terms():
    got = about_terms(["x"], [_cell("works", "love", "days", "great", "battery life", "the", "fit", "value")])
    assert got == [["battery life", "fit", "value"]]  # nouns that are also opinion words stay


def test_texts_without_aspect_cells_get_the_rule_extractor():
    got = about_terms(["The battery lasts a day. The screen is dim.", None, float("nan")], None)
    assert "battery" in got[0] and "screen" in got[0]
    assert got[1] == [] and got[2] == []


def test_a_topic_is_named_by_its_main_aspects_first():
    # topic 0 talks about the kettle and its lid; topic 1 about delivery; "kettle" also occurs in topic 1
    terms = [["kettle", "lid"]] * 6 + [["kettle", "handle"]] * 2 + [["delivery", "courier"]] * 5 + [["kettle"]] * 2
    topics = np.array([0] * 8 + [1] * 7)
    names = name_topics(topics, terms, {0: ["boils"], 1: ["arrived"]})
    assert set(names[0][:2]) == {"kettle", "lid"} and "handle" in names[0]
    assert set(names[1][:2]) == {"delivery", "courier"} and "kettle" not in names[1][:2]


def test_plurals_count_with_their_singular_and_overlaps_are_left_out():
    terms = [["size"], ["sizes"], ["size"], ["true size"], ["true size"], ["fabric"], ["fabric"]]
    names = name_topics(np.zeros(len(terms), dtype=int), terms)
    assert names[0][0] == "size" and "sizes" not in names[0] and "true size" not in names[0]
    assert "fabric" in names[0]


def test_plural_groups_are_named_by_their_most_frequent_form():
    from affectkit.reviews.naming import term_groups

    groups = term_groups({"dress": 5, "dresses": 2, "dresse": 1, "pant": 1, "pants": 9, "battery": 1,
                          "batteries": 1, "size": 2, "sizes": 2, "glass": 3})
    assert groups["dresses"] == "dress" and groups["dresse"] == "dresse"  # "es" before "s"
    assert groups["pant"] == groups["pants"] == "pants"  # the form the reviews use
    assert groups["batteries"] == "battery" and groups["sizes"] == "size"  # a tie goes to the singular
    assert groups["glass"] == "glass"
    assert term_groups({"tee": 30, "tees": 6, "te": 1})["tees"] == "tee"  # the more frequent singular


def test_a_term_needs_two_reviews_and_thin_topics_fall_back_to_their_words():
    terms = [["toaster"], [], ["slot"]]
    names = name_topics(np.array([0, 0, 0]), terms, {0: ["lovely", "toaster", "setting", "works"]})
    assert names[0] == ["toaster", "setting"]  # c-TF-IDF words without the opinion word and the verb


def test_names_are_checked():
    assert check_names({"3": "  Delivery   delays "}) == {3: "Delivery delays"}
    with pytest.raises(InvalidInputError, match="whole numbers"):
        check_names({"three": "x"})
    with pytest.raises(InvalidInputError, match="empty"):
        check_names({1: " "})
    with pytest.raises(InvalidInputError, match="at most 80"):
        check_names({1: "x" * 81})
    with pytest.raises(InvalidInputError, match="must map topic ids"):
        check_names(["a"])


def test_names_files(tmp_path):
    (tmp_path / "n.csv").write_text("topic,name\n3,Delivery\n5,\"Design, colour\"\n", encoding="utf-8")
    assert read_names(tmp_path / "n.csv") == {3: "Delivery", 5: "Design, colour"}
    (tmp_path / "n.json").write_text('{"2": "Price"}', encoding="utf-8")
    assert read_names(tmp_path / "n.json") == {2: "Price"}
    (tmp_path / "bad.csv").write_text("id,label\n1,x\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="columns 'topic' and 'name'"):
        read_names(tmp_path / "bad.csv")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        read_names(tmp_path / "bad.json")
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_names(tmp_path / "absent.csv")
