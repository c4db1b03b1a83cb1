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


def test_the_limits_default_to_their_one_definition(tmp_path: Path):
    from careline.shared import MESSAGE_MAX_CHARS, Settings

    settings = load_settings(environ={}, root=tmp_path)
    assert settings.max_message_chars == MESSAGE_MAX_CHARS == Settings.max_message_chars
    assert (settings.sender_per_minute, settings.address_per_minute) == (Settings.sender_per_minute,
                                                                        Settings.address_per_minute)
    assert (settings.web_port, settings.desk_port) == (Settings.web_port, Settings.desk_port)


def test_policy_sections_are_read_through_the_settings_once_per_version_of_the_file(tmp_path: Path):
    import os

    from careline.shared import PolicyFileError

    policy = tmp_path / "policy.yml"
    policy.write_text("frustration: {medium: 0.5, high: 0.8}\nhandoff: [not, a, mapping]\n")
    settings = load_settings(environ={}, root=tmp_path)
    assert settings.policy_path == policy
    first = settings.policy_section("frustration")
    assert first == {"medium": 0.5, "high": 0.8}
    first["medium"] = 0.99
    assert settings.policy_section("frustration")["medium"] == 0.5, "every caller gets its own copy"
    assert settings.policy_section("identity") == {}
    with pytest.raises(PolicyFileError, match="handoff must be a mapping"):
        settings.policy_section("handoff")
    policy.write_text("frustration: {medium: 0.6, high: 0.9}\n")
    os.utime(policy, ns=(1, 1))  # a new version even within the file system's time resolution
    assert settings.policy_section("frustration") == {"medium": 0.6, "high": 0.9}, "an edited file is read again"
    policy.unlink()
    with pytest.raises(FileNotFoundError):
        settings.policy_section("frustration")


def test_the_shop_file_is_shop_yml_unless_another_is_named(tmp_path: Path):
    assert load_settings(environ={}, root=tmp_path).shop_path == tmp_path / "shop.yml"
    other = tmp_path / "elsewhere" / "second-shop.yml"
    assert load_settings(environ={"CARELINE_SHOP_FILE": str(other)}, root=tmp_path).shop_path == other
    assert load_settings(environ={"CARELINE_SHOP_FILE": "shops/b.yml"}, root=tmp_path).shop_path == \
        tmp_path / "shops" / "b.yml"


def test_the_prod_profile_points_at_its_own_postgres_and_redis_and_two_rasa_servers(tmp_path: Path):
    settings = load_settings({"CARELINE_PROFILE": "prod", "CARELINE_PG_PASSWORD": "p" * 20,
                              "CARELINE_REDIS_PASSWORD": "r" * 20, "CARELINE_PG_PORT": "6001",
                              "CARELINE_REDIS_PORT": "6002"}, root=tmp_path)
    assert settings.tracker_db_url == f"postgresql+psycopg2://careline:{'p' * 20}@127.0.0.1:6001/careline_tracker"
    assert settings.store_db_url.endswith("@127.0.0.1:6001/careline")
    assert settings.redis_url == f"redis://:{'r' * 20}@127.0.0.1:6002/0"
    assert settings.behind_proxy and settings.rasa_backend_ports == (5006, 5007)
    assert settings.process_env()["CARELINE_REDIS_URL"] == settings.redis_url


def test_the_dev_profile_is_sqlite_one_rasa_server_and_no_redis(tmp_path: Path):
    settings = load_settings({}, root=tmp_path)
    assert settings.profile == "dev" and not settings.redis_url and not settings.behind_proxy
    assert settings.rasa_backend_ports == (settings.rasa_port,)
    assert settings.tracker_db_url.startswith("sqlite:///")


@pytest.mark.parametrize("environ, fragment", [
    ({"CARELINE_PROFILE": "staging"}, "CARELINE_PROFILE"),
    ({"CARELINE_PROFILE": "prod"}, "CARELINE_PG_PASSWORD"),
    ({"CARELINE_PROFILE": "prod", "CARELINE_PG_PASSWORD": "p" * 20}, "CARELINE_REDIS_PASSWORD"),
])
def test_a_bad_profile_or_a_prod_profile_without_its_password_is_a_clear_error(tmp_path: Path, environ, fragment):
    with pytest.raises(SettingsError, match=fragment):
        load_settings(environ, root=tmp_path)


def test_in_a_container_the_desk_reaches_rasa_and_browsers_the_chat_at_the_addresses_given(tmp_path: Path):
    settings = load_settings({"CARELINE_HOST": "0.0.0.0", "CARELINE_RASA_URL": "http://nginx:5005/",
                              "CARELINE_CHAT_URL": "https://chat.example.com"}, root=tmp_path)
    assert settings.rasa_url == "http://nginx:5005" and settings.chat_url == "https://chat.example.com"
    assert load_settings({}, root=tmp_path).chat_url == "http://127.0.0.1:5005"
    with pytest.raises(SettingsError, match="CARELINE_RASA_URL"):
        load_settings({"CARELINE_RASA_URL": "nginx:5005"}, root=tmp_path)


def test_the_run_time_limits_come_from_dotenv_too_and_reach_the_rasa_server(tmp_path: Path):
    (tmp_path / ".env").write_text("CARELINE_ACTION_TIMEOUT_S=5\nCARELINE_TRACKER_RETRY_S=30\n")
    settings = load_settings({}, root=tmp_path)
    assert (settings.action_timeout_s, settings.tracker_retry_s) == (5.0, 30.0)
    assert settings.process_env()["CARELINE_ACTION_TIMEOUT_S"] == "5"
    assert settings.process_env()["CARELINE_TRACKER_RETRY_S"] == "30"
    with pytest.raises(SettingsError, match="CARELINE_ACTION_TIMEOUT_S"):
        load_settings({"CARELINE_ACTION_TIMEOUT_S": "0"}, root=tmp_path)
