"""`make run` without a mail server: the local mail catcher keeps what the worker sends, and only then runs."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from email import message_from_bytes, policy

from careline.notify import OutgoingEmail, SmtpConfig, SmtpMailer
from careline.shared.settings import PROJECT_ROOT, load_settings
from ops.supervisor import mail_catcher_env, services
from tests.fakes.smtp import _free_port


def test_the_catcher_runs_only_without_a_mail_server(tmp_path):
    bare = load_settings(environ={"CARELINE_VAR_DIR": str(tmp_path), "CARELINE_MAIL_PORT": "2525"}, root=tmp_path)
    assert "mail" in [s.name for s in services(bare, tmp_path / "model.tar.gz")]
    assert mail_catcher_env(bare) == {"CARELINE_SMTP_HOST": "127.0.0.1", "CARELINE_SMTP_PORT": "2525",
                                      "CARELINE_SMTP_SECURITY": "none"}
    real = load_settings(environ={"CARELINE_VAR_DIR": str(tmp_path), "CARELINE_SMTP_HOST": "smtp.example.com"},
                         root=tmp_path)
    assert "mail" not in [s.name for s in services(real, tmp_path / "model.tar.gz")]
    assert mail_catcher_env(real) == {} and (real.smtp_port, real.smtp_security) == (587, "starttls")


def test_the_catcher_saves_each_message_privately(tmp_path):
    port, folder = _free_port(), tmp_path / "mail"
    process = subprocess.Popen([sys.executable, "-m", "ops.mail_catcher", "--port", str(port), "--dir", str(folder)],
                               cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        mailer = SmtpMailer(SmtpConfig(host="127.0.0.1", port=port, sender="Shop <help@shop.example>",
                                       security="none", timeout_s=5))
        email = OutgoingEmail("return-label:RA-1", "jkim88@example.net", "Your return label", "Hello James")
        deadline = time.monotonic() + 20
        while (sent := mailer.send(email)).error and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sent.error is None, sent.error
        (saved,) = folder.glob("*.eml")
        message = message_from_bytes(saved.read_bytes(), policy=policy.default)
        assert message["Subject"] == "Your return label" and message["To"] == "jkim88@example.net"
        assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600 and stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
