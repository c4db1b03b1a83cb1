"""shop.yml: read and checked, and every sentence that states one of its facts agrees with it."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

import pytest

from careline.shared import PROJECT_ROOT, ShopFileError, catalogue, load_settings, load_shop
from careline.shared.shop import parse_shop

SHOP = load_shop(PROJECT_ROOT / "shop.yml")


def _clock(hour_minute) -> str:
    hour, minute = hour_minute.hour, hour_minute.minute
    suffix = "AM" if hour < 12 else "PM"
    return f"{(hour % 12) or 12}{f':{minute:02d}' if minute else ''} {suffix}"


def test_the_shop_is_a_us_shop_with_a_us_phone_and_time_zone():
    assert (SHOP.country, SHOP.currency, SHOP.timezone.key) == ("US", "USD", "America/New_York")
    assert re.fullmatch(r"1-8(00|33|44|55|66|77|88)-\d{3}-\d{4}", SHOP.phone), "a US toll-free number"


def test_the_faq_answers_state_the_hours_and_contacts_of_shop_yml():
    hours = catalogue().response("utter_faq/opening_hours").texts[0]
    weekdays = {SHOP.hours[day] for day in range(5)}
    assert len(weekdays) == 1, "the FAQ says 'Monday to Friday': shop.yml must agree"
    opening, closing = weekdays.pop()
    assert f"Monday to Friday {_clock(opening)}-{_clock(closing)}" in hours
    assert f"Saturday {_clock(SHOP.hours[5][0])}-{_clock(SHOP.hours[5][1])}" in hours
    assert 6 not in SHOP.hours and "closed on Sundays" in hours and "Eastern Time" in hours
    contact = catalogue().response("utter_faq/contact").texts[0]
    assert SHOP.phone in contact and SHOP.email in contact
    words = {1: "one", 2: "two", 3: "three"}.get(SHOP.email_reply_days, str(SHOP.email_reply_days))
    assert f"within {words} working day" in contact


def test_no_customer_sentence_names_another_phone_number():
    phones = re.compile(r"\b(?:0800|1-8\d\d)[- ]?\d{3}[- ]?\d{4}\b")
    for name in catalogue().names():
        for text in catalogue().response(name).texts:
            for found in phones.findall(text):
                assert found == SHOP.phone, f"{name} names {found}, shop.yml says {SHOP.phone}"


def test_opening_times_follow_the_hours_holidays_and_time_zone():
    tuesday_3pm_new_york = datetime(2026, 12, 1, 20, 0, tzinfo=timezone.utc)
    assert SHOP.is_open(tuesday_3pm_new_york) and SHOP.next_opening(tuesday_3pm_new_york) is None
    saturday_night = datetime(2026, 12, 6, 2, 0, tzinfo=timezone.utc)  # Saturday 9 PM in New York
    assert SHOP.next_opening(saturday_night) == datetime(2026, 12, 7, 8, 0, tzinfo=SHOP.timezone)  # Monday
    christmas_eve_evening = datetime(2026, 12, 25, 2, 0, tzinfo=timezone.utc)  # Thu 24th 9 PM New York
    assert SHOP.next_opening(christmas_eve_evening) == datetime(2026, 12, 26, 9, 0, tzinfo=SHOP.timezone)
    assert date(2026, 12, 25) in SHOP.holidays


def test_working_time_counts_only_hours_the_team_works():
    friday_7pm = datetime(2026, 12, 5, 0, 0, tzinfo=timezone.utc)     # Fri 4 Dec 7 PM New York
    monday_9am = datetime(2026, 12, 7, 14, 0, tzinfo=timezone.utc)    # Mon 7 Dec 9 AM New York
    # 1 h on Friday, 8 h on Saturday, none on Sunday, 1 h on Monday
    assert SHOP.working_seconds_between(friday_7pm, monday_9am) == 10 * 3600


def test_settings_read_the_projects_shop_file():
    assert load_settings().shop() == SHOP


@pytest.mark.parametrize("change, complaint", [
    (lambda d: d.update(timezone="Mars/Olympus"), "not a known time zone"),
    (lambda d: d["support"]["hours"].update(funday="08:00-20:00"), "not a day of the week"),
    (lambda d: d["support"]["hours"].update(monday="8-20"), "must look like 08:00-20:00"),
    (lambda d: d["support"]["hours"].update(monday="20:00-08:00"), "closes before it opens"),
    (lambda d: d["support"].update(phone=""), "support.phone"),
    (lambda d: d["returns"].update(address=[]), "returns.address"),
])
def test_a_bad_shop_file_names_the_key(change, complaint):
    import yaml
    data = yaml.safe_load((PROJECT_ROOT / "shop.yml").read_text())
    change(data)
    with pytest.raises(ShopFileError, match=complaint):
        parse_shop(data)


