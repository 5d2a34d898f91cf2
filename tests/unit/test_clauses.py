import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from affectkit.text.clauses import governing_regions, split_clauses


def texts(text, **kw):
    return [c.text for c in split_clauses(text, **kw)]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("The product works great but delivery was delayed", ["The product works great", "but delivery was delayed"]),
        ("Although the screen is gorgeous, the battery dies fast.", ["Although the screen is gorgeous", "the battery dies fast."]),
        ("nice but pricey", ["nice", "but pricey"]),
        ("Great food; terrible service!!!", ["Great food", "terrible service!!!"]),
        ("All but one dish was great", ["All but one dish was great"]),
        ("The service, however, was slow.", ["The service, however, was slow."]),
        ("Loved the view 😍 will come back", ["Loved the view 😍", "will come back"]),
        ("I like it, and the price is right", ["I like it", "and the price is right"]),
        ("", []),
        ("   ", []),
    ],
)
def test_split_clauses(text, expected):
    assert texts(text) == expected


def test_contrast_level_keeps_lists_together():
    text = "Fabulous service, fantastic food, and a chilled out atmosphere but the wine was awful."
    assert texts(text, level="contrast") == ["Fabulous service, fantastic food, and a chilled out atmosphere",
                                             "but the wine was awful."]


def test_bad_level():
    with pytest.raises(ValueError, match="'level'"):
        split_clauses("x", level="word")


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=300))
def test_spans_point_into_the_text_and_never_overlap(text):
    spans = split_clauses(text)
    for c in spans:
        assert text[c.start : c.end] == c.text and c.text.strip()
    for a, b in zip(spans, spans[1:], strict=False):
        assert a.end <= b.start


def test_governing_regions():
    text = "The food was good, which surprised us, but the service was slow and rude."
    clauses = split_clauses(text)
    food, service = (text.index("food"), text.index("food") + 4), (text.index("service"), text.index("service") + 7)
    regions = governing_regions(clauses, [food, service])
    assert text[regions[0][0] : regions[0][1]] == "The food was good, which surprised us"
    assert text[regions[1][0] : regions[1][1]].startswith("but the service")
    lone = governing_regions(clauses, [food])
    assert lone[0] == (0, len(text))
