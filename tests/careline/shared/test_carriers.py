"""careline.shared.carriers: tracking numbers in a message become links to their carrier's page (shop.yml)."""
from __future__ import annotations

import pytest

from careline.db.seed import CARRIERS
from careline.shared import PROJECT_ROOT, ShopFileError, load_shop, render
from careline.shared.carriers import Carrier, parse_carriers, tracking_links
from careline.shared.shop import parse_shop

SHOP = load_shop(PROJECT_ROOT / "shop.yml")


def test_shop_yml_has_a_https_tracking_page_for_every_carrier_the_shop_ships_with():
    assert {carrier.name for carrier in SHOP.carriers} == set(CARRIERS)
    assert all(carrier.tracking_url.startswith("https://") for carrier in SHOP.carriers)


@pytest.mark.parametrize("carrier", CARRIERS)
def test_the_bots_own_sentence_links_the_number_to_its_carrier(carrier):
    number = f"{carrier[:2].upper()}1234567890"  # the seed's shape
    text = "Good news: it's on its way " + render("utter_order_tracking", carrier=carrier, tracking_number=number) + "."
    [link] = tracking_links(text, SHOP.carriers)
    assert link["text"] == number and link["text"] in text
    page = next(c for c in SHOP.carriers if c.name == carrier)
    assert link["url"] == page.tracking_url.replace("{number}", number)


def test_agents_wordings_the_nearest_carrier_and_numbers_without_a_carrier():
    shops = SHOP.carriers
    [ups] = tracking_links("Your UPS tracking number is 1Z999AA10123456784, it left today.", shops)
    assert ups == {"text": "1Z999AA10123456784", "url": "https://www.ups.com/track?loc=en_US&tracknum=1Z999AA10123456784"}
    both = tracking_links("The first box is with UPS (tracking number UP1111111111), the second with DHL "
                          "(tracking number DH2222222222).", shops)
    assert [(link["text"], link["url"].split("/")[2]) for link in both] == [
        ("UP1111111111", "www.ups.com"), ("DH2222222222", "www.dhl.com")]
    after = tracking_links("tracking: 9400111899223344556677 (USPS)", shops)
    assert after and after[0]["url"].startswith("https://tools.usps.com/")
    assert tracking_links("tracking number UP1234567890", shops) == [], "no carrier named: no guess"
    assert tracking_links("with UPS (tracking number pending)", shops) == [], "a word is not a number"
    assert tracking_links("USPS tracking number UP1234567890", shops)[0]["url"].startswith("https://tools.usps.com/"), \
        "UPS inside USPS is not UPS"


def test_only_the_number_reaches_the_url_and_only_from_shop_yml():
    carriers = (Carrier("UPS", "https://example.test/track?n={number}"),)
    [link] = tracking_links("UPS tracking number AB12345678", carriers)
    assert link["url"] == "https://example.test/track?n=AB12345678"
    assert Carrier("X", "https://x.test/{number}").url("a/b?c=d&e") == "https://x.test/a%2Fb%3Fc%3Dd%26e"
    hostile = 'UPS tracking number 12345678"><script>https://evil.test'
    assert [link["url"] for link in tracking_links(hostile, carriers)] == ["https://example.test/track?n=12345678"]


@pytest.mark.parametrize("template", ["http://www.ups.com/track?n={number}", "https://ups.test/track",
                                      "javascript:alert(1)//{number}", "https://a.test/{number}/{number}",
                                      "https://a.test/{other}?n={number}", "https://a.test/ x?n={number}", 42])
def test_shop_yml_refuses_a_tracking_page_that_is_not_one_https_url_with_the_number(template):
    with pytest.raises(ValueError):
        parse_carriers({"UPS": template})
    data = {"name": "S", "country": "US", "currency": "USD", "timezone": "UTC",
            "support": {"phone": "1", "email": "a@b.test", "email_reply_days": 1, "hours": {"monday": "08:00-20:00"}},
            "returns": {"address": ["x"], "drop_off_days": 14}, "carriers": {"UPS": template}}
    with pytest.raises(ShopFileError, match="carriers"):
        parse_shop(data)
    data.pop("carriers")
    assert parse_shop(data).carriers == (), "a shop without carriers links nothing"
