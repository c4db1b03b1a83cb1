"""The REST channel's credential check and its setting."""
from __future__ import annotations

from pathlib import Path

import pytest

from careline.access.integration_auth import check_bearer
from careline.shared.settings import SettingsError, load_settings

TOKEN = "s3cret-integration-token-0123456789"


def test_no_configured_token_means_the_channel_is_off():
    for header in (None, "", f"Bearer {TOKEN}", "Bearer "):
        verdict = check_bearer("", header)
        assert (verdict.ok, verdict.status, verdict.error) == (False, 503, "rest_disabled")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer  ", TOKEN, f"Basic {TOKEN}", f"Token {TOKEN}",
                                    f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer \udc80", "Bearer é"])
def test_a_missing_or_wrong_token_is_401_with_a_challenge(header):
    verdict = check_bearer(TOKEN, header)
    assert (verdict.ok, verdict.status, verdict.error) == (False, 401, "unauthorized")
    assert verdict.headers["WWW-Authenticate"].startswith('Bearer realm="careline-rest"')


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"  Bearer {TOKEN}  "])
def test_the_right_token_passes(header):
    assert check_bearer(TOKEN, header).ok


def test_the_token_comes_from_the_environment_or_env_file(tmp_path: Path):
    assert load_settings(environ={}, root=tmp_path).rest_token == ""
    (tmp_path / ".env").write_text(f"CARELINE_REST_TOKEN={TOKEN}\n")
    assert load_settings(environ={}, root=tmp_path).rest_token == TOKEN
    assert load_settings(environ={"CARELINE_REST_TOKEN": ""}, root=tmp_path).rest_token == ""


def test_a_short_token_is_a_clear_error(tmp_path: Path):
    with pytest.raises(SettingsError, match="CARELINE_REST_TOKEN"):
        load_settings(environ={"CARELINE_REST_TOKEN": "short"}, root=tmp_path)
