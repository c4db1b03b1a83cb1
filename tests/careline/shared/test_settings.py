from pathlib import Path

import pytest

from careline.shared.settings import SettingsError, load_settings, parse_env_file


def test_parse_env_file_handles_comments_quotes_and_export():
    text = "# secrets\n\nRASA_AUTH_TOKEN='abc def'\nexport CARELINE_RASA_PORT=6005\nEMPTY=\n"
    assert parse_env_file(text) == {
        "RASA_AUTH_TOKEN": "abc def", "CARELINE_RASA_PORT": "6005", "EMPTY": "",
    }


def test_parse_env_file_rejects_a_line_without_equals_and_names_it():
    with pytest.raises(SettingsError, match="line 2"):
        parse_env_file("A=1\nthis is not a setting\n")


def test_defaults_are_localhost_and_sqlite_under_var(tmp_path: Path):
    settings = load_settings(environ={}, root=tmp_path)
    assert settings.host == "127.0.0.1"
    assert (settings.rasa_port, settings.actions_port) == (5005, 5055)
    assert settings.tracker_db_url == f"sqlite:///{tmp_path / 'var' / 'tracker.db'}"
    assert settings.store_db_url == f"sqlite:///{tmp_path / 'var' / 'careline.db'}"
    assert settings.auth_token == ""


def test_environment_wins_over_env_file(tmp_path: Path):
    (tmp_path / ".env").write_text("RASA_AUTH_TOKEN=from-file\nCARELINE_RASA_PORT=7000\n")
    settings = load_settings(environ={"CARELINE_RASA_PORT": "7100"}, root=tmp_path)
    assert settings.auth_token == "from-file"
    assert settings.rasa_port == 7100


def test_tracker_store_url_comes_from_the_environment(tmp_path: Path):
    url = "postgresql://careline:secret@db.internal:5432/tracker"
    settings = load_settings(environ={"CARELINE_TRACKER_DB_URL": url}, root=tmp_path)
    assert settings.tracker_db_url == url
    assert settings.process_env()["CARELINE_TRACKER_DB_URL"] == url


@pytest.mark.parametrize("bad", ["0", "70000", "http", "-1"])
def test_a_bad_port_is_a_clear_error(tmp_path: Path, bad: str):
    with pytest.raises(SettingsError, match="CARELINE_RASA_PORT"):
        load_settings(environ={"CARELINE_RASA_PORT": bad}, root=tmp_path)
