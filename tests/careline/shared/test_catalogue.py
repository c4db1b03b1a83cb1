"""The catalogue of customer sentences: rendering domain.yml responses by name, with clear errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from careline.shared import Catalogue, CatalogueError, button, catalogue, render

RESPONSES = {
    "utter_offer": [{"text": "I can refund {amount} for order {number}. Shall I go ahead?"}],
    "utter_feeling": [{"text": "One."}, {"text": "Two."}, {"text": "Three."}],
    "utter_title": [{"text": "Yes, please"}],
    "utter_with_buttons": [{"text": "Pick one", "buttons": [{"title": "A", "payload": "/a"}]}],
}


@pytest.fixture()
def texts() -> Catalogue:
    return Catalogue(RESPONSES)


def test_placeholders_are_filled_with_the_values_given(texts: Catalogue) -> None:
    assert texts.render("utter_offer", amount="$38.95", number="CL-100001") == \
        "I can refund $38.95 for order CL-100001. Shall I go ahead?"
    assert texts.render("utter_offer", amount=5, number=None) == "I can refund 5 for order None. Shall I go ahead?"


def test_a_value_is_never_interpolated_again(texts: Catalogue) -> None:
    assert texts.render("utter_offer", amount="{number}", number="x") == "I can refund {number} for order x. " \
        "Shall I go ahead?"


def test_an_unknown_name_a_missing_value_and_an_extra_value_are_errors(texts: Catalogue) -> None:
    with pytest.raises(CatalogueError, match="utter_nope"):
        texts.render("utter_nope")
    with pytest.raises(CatalogueError, match="utter_offer needs a value for number"):
        texts.render("utter_offer", amount="$1.00")
    with pytest.raises(CatalogueError, match="utter_title has no placeholder first_name"):
        texts.render("utter_title", first_name="Maria")


def test_a_variation_is_chosen_by_number_or_at_random(texts: Catalogue) -> None:
    assert [texts.render("utter_feeling", variation=n) for n in range(4)] == ["One.", "Two.", "Three.", "One."]
    assert {texts.render("utter_feeling") for _ in range(200)} == {"One.", "Two.", "Three."}


def test_a_response_is_refused_when_its_variations_disagree_or_it_has_no_text() -> None:
    """Only the faulty response fails, when rendered; the others still render (a custom or image
    response that only Rasa sends does not take the channels' texts down with it)."""
    texts = Catalogue({"utter_x": [{"text": "Hi {name}."}, {"text": "Hello."}], "utter_custom": [{"custom": {"a": 1}}],
                       "utter_v": [{"text": "Number {variation}."}], "utter_ok": [{"text": "Fine."}]})
    assert texts.render("utter_ok") == "Fine."
    with pytest.raises(CatalogueError, match="different placeholders"):
        texts.render("utter_x", name="Maria")
    with pytest.raises(CatalogueError, match="no text"):
        texts.render("utter_custom")
    with pytest.raises(CatalogueError, match="variation"):
        texts.render("utter_v")
    assert set(texts.problems()) == {"utter_x", "utter_custom", "utter_v"}


def test_variations_bound_to_a_channel_or_condition_are_left_to_rasa() -> None:
    texts = Catalogue({"utter_hi": [{"text": "Hello."}, {"text": "Hi from Messenger.", "channel": "facebook"},
                                    {"text": "Hi {name}.", "condition": [{"type": "slot", "name": "x", "value": 1}]}]})
    assert {texts.render("utter_hi") for _ in range(50)} == {"Hello."}


def test_names_and_placeholders_are_listed(texts: Catalogue) -> None:
    assert "utter_with_buttons" in texts.names()
    assert texts.response("utter_offer").placeholders == {"amount", "number"}


def test_the_project_catalogue_is_domain_yml(tmp_path: Path) -> None:
    domain = tmp_path / "domain.yml"
    domain.write_text('version: "3.1"\nresponses:\n  utter_hi:\n    - text: "Hi {first_name}!"\n', encoding="utf-8")
    assert Catalogue.from_file(domain).render("utter_hi", first_name="Maria") == "Hi Maria!"
    assert catalogue() is catalogue(), "read once"
    assert render("utter_refund_instead", amount="$5.00") == \
        "No problem. Would you rather have a refund of $5.00 instead?"
    assert button("utter_button_yes_please", "/affirm") == {"title": "Yes, please", "payload": "/affirm"}
