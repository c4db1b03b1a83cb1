"""The operational helpers: env file, training hash, Rasa launcher arguments."""
import os
import stat
from pathlib import Path

from careline.shared.settings import load_settings
from ops.envfile import GENERATED, ensure_env_file
from ops.rasa_server import rasa_argv
from ops.supervisor import services
from ops.train import model_path, training_hash, training_inputs


def _project(tmp_path: Path) -> Path:
    (tmp_path / "data" / "nlu").mkdir(parents=True)
    (tmp_path / "components").mkdir()
    (tmp_path / "config.yml").write_text("pipeline: []\n")
    (tmp_path / "domain.yml").write_text("intents: [greet]\n")
    (tmp_path / "data" / "nlu" / "basics.yml").write_text("nlu: []\n")
    (tmp_path / "components" / "scorer.py").write_text("X = 1\n")
    (tmp_path / "README.md").write_text("docs\n")
    (tmp_path / "requirements.txt").write_text("rasa==3.6.21\npytest==8.4.2\n")
    return tmp_path


def test_training_inputs_are_config_domain_data_and_components(tmp_path):
    root = _project(tmp_path)
    names = [p.relative_to(root).as_posix() for p in training_inputs(root)]
    assert names == ["components/scorer.py", "config.yml", "data/nlu/basics.yml", "domain.yml"]


def test_hash_changes_with_training_data_but_not_with_docs_or_test_pins(tmp_path):
    root = _project(tmp_path)
    before = training_hash(root)
    (root / "README.md").write_text("other docs\n")
    (root / "requirements.txt").write_text("rasa==3.6.21\npytest==9.0.0\n")
    assert training_hash(root) == before
    (root / "data" / "nlu" / "basics.yml").write_text("nlu: [x]\n")
    assert training_hash(root) != before
    assert model_path(root).name == f"careline-{training_hash(root)}.tar.gz"


def test_the_rasa_servers_run_time_plug_ins_are_no_training_input(tmp_path):
    root = _project(tmp_path)
    (root / "components" / "runtime").mkdir()
    (root / "components" / "runtime" / "tracker_store.py").write_text("A = 1\n")
    before = training_hash(root)
    (root / "components" / "runtime" / "tracker_store.py").write_text("A = 2\n")
    assert training_hash(root) == before
    (root / "components" / "scorer.py").write_text("X = 2\n")
    assert training_hash(root) != before


def test_hash_changes_with_the_rasa_pin(tmp_path):
    root = _project(tmp_path)
    before = training_hash(root)
    (root / "requirements.txt").write_text("rasa==3.6.20\npytest==8.4.2\n")
    assert training_hash(root) != before


def test_env_file_gets_private_random_secrets_once(tmp_path, monkeypatch):
    for key in GENERATED:
        monkeypatch.delenv(key, raising=False)
    path = tmp_path / ".env"
    assert ensure_env_file(path) == ["RASA_AUTH_TOKEN", "CARELINE_ACTIONS_TOKEN", "CARELINE_SIGNING_KEY",
                                     "CARELINE_DESK_AGENT_PASSWORD", "CARELINE_DESK_SUPERVISOR_PASSWORD",
                                     "CARELINE_PG_PASSWORD", "CARELINE_REDIS_PASSWORD", "CARELINE_FORWARDED_SECRET",
                                     "CARELINE_PG_ADMIN_PASSWORD"]
    first = path.read_text()
    assert ensure_env_file(path) == []
    assert path.read_text() == first
    token = first.split("RASA_AUTH_TOKEN=")[1].split()[0]
    assert len(token) >= 32
    passwords = [first.split(f"{key}=")[1].split()[0] for key in GENERATED if "PASSWORD" in key]
    assert len(set(passwords)) == 5 and all(len(p) >= 16 for p in passwords)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_token_reaches_rasa_in_process_and_never_on_a_command_line(tmp_path):
    settings = load_settings(environ={"RASA_AUTH_TOKEN": "s3cret-token-value-1234"}, root=tmp_path)
    for service in services(settings, tmp_path / "model.tar.gz"):
        assert "s3cret-token-value-1234" not in " ".join(service.command)
        assert "0.0.0.0" not in service.command
    argv = rasa_argv("m.tar.gz", "127.0.0.1", 5005, "s3cret-token-value-1234")
    assert "--auth-token=s3cret-token-value-1234" in argv
    assert "--enable-api" in argv and argv[argv.index("--interface") + 1] == "127.0.0.1"


def test_a_token_that_starts_with_a_dash_reaches_rasa():
    """token_urlsafe may start with '-': as a separate word argparse took it for an option (make up failed)."""
    import argparse

    from rasa.cli.arguments.run import add_server_arguments

    parser = argparse.ArgumentParser()
    add_server_arguments(parser)
    argv = rasa_argv("m.tar.gz", "127.0.0.1", 5005, "-pYLdashed-token-value-123")
    known, _ = parser.parse_known_args(argv[2:])
    assert known.auth_token == "-pYLdashed-token-value-123"


def test_the_shared_modules_the_models_read_are_training_inputs():
    """A change to a pattern or a length the models read must retrain them. The settings do not shape what a
    model learns: they say where files are, and the frustration levels are read from policy.yml when it loads."""
    import ast

    from careline.shared.settings import PROJECT_ROOT

    models = ("careline/nlu/intent_model.py", "careline/nlu/frustration_model.py", "careline/nlu/encoder.py")
    used = {alias.name for path in models for node in ast.walk(ast.parse((PROJECT_ROOT / path).read_text()))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("careline.shared")
            for alias in node.names} - {"PROJECT_ROOT", "Settings", "load_settings"}
    inputs = {p.relative_to(PROJECT_ROOT).as_posix() for p in training_inputs(PROJECT_ROOT)}
    for path in sorted((PROJECT_ROOT / "careline" / "shared").glob("*.py")):
        defined = {target.id for node in ast.parse(path.read_text()).body if isinstance(node, ast.Assign)
                   for target in node.targets if isinstance(target, ast.Name)}
        defined |= {node.name for node in ast.parse(path.read_text()).body
                    if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        if used & defined:
            assert path.relative_to(PROJECT_ROOT).as_posix() in inputs, f"{path.name} shapes the models"
