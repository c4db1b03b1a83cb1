"""The settings of labels, emails and the warehouse: defaults, the SMTP secret from the environment, clear errors."""
from pathlib import Path

import pytest

from careline.notify import SmtpConfig
from careline.shared.settings import PROJECT_ROOT, SettingsError, load_settings


def test_defaults_send_nowhere_and_link_to_the_shop_page(tmp_path: Path):
    settings = load_settings(environ={}, root=tmp_path)
    assert (settings.smtp_host, settings.warehouse_url) == ("", "")
    assert (settings.smtp_port, settings.smtp_security, settings.mail_port) == (587, "starttls", 8025)
    assert settings.customer_url == "http://127.0.0.1:8080" and settings.label_link_days == 30
    assert settings.mail_dir == tmp_path / "var" / "mail"


def test_a_configured_mail_server_and_warehouse(tmp_path: Path):
    (tmp_path / ".env").write_text("CARELINE_SMTP_PASSWORD=from-the-env-file\n")
    settings = load_settings(environ={
        "CARELINE_SMTP_HOST": "smtp.example.com", "CARELINE_SMTP_SECURITY": "SSL", "CARELINE_SMTP_USER": "bot",
        "CARELINE_WAREHOUSE_URL": "https://wh.example.com/orders/", "CARELINE_PUBLIC_URL": "https://shop.example/",
        "CARELINE_LABEL_LINK_DAYS": "7"}, root=tmp_path)
    assert (settings.smtp_port, settings.smtp_security, settings.smtp_password) == (465, "ssl", "from-the-env-file")
    assert settings.warehouse_url == "https://wh.example.com/orders" and settings.customer_url == "https://shop.example"
    assert settings.label_link_days == 7 and settings.process_env()["CARELINE_WAREHOUSE_URL"] == settings.warehouse_url
    assert "SMTP_PASSWORD" not in " ".join(settings.process_env())


def test_the_sender_is_the_shops_support_email_unless_set():
    settings = load_settings(environ={"CARELINE_SMTP_HOST": "smtp.example.com"}, root=PROJECT_ROOT)
    shop = settings.shop()
    assert SmtpConfig.from_settings(settings).sender == f"{shop.name} <{shop.email}>"
    other = load_settings(environ={"CARELINE_SMTP_FROM": "Care <care@example.com>"}, root=PROJECT_ROOT)
    assert SmtpConfig.from_settings(other).sender == "Care <care@example.com>"


@pytest.mark.parametrize("key, value", [("CARELINE_SMTP_SECURITY", "tls-maybe"), ("CARELINE_SMTP_PORT", "0"),
                                        ("CARELINE_WAREHOUSE_URL", "ftp://wh.example"),
                                        ("CARELINE_PUBLIC_URL", "shop.example"), ("CARELINE_LABEL_LINK_DAYS", "0"),
                                        ("CARELINE_MAIL_PORT", "smtp")])
def test_a_bad_value_is_named(tmp_path: Path, key, value):
    with pytest.raises(SettingsError, match=key):
        load_settings(environ={key: value}, root=tmp_path)
