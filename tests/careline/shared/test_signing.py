"""Server-signed tokens (careline/shared/signing.py)."""
import pytest

from careline.shared.signing import Signer, SigningError

KEY = "unit-tests-signing-key-0123456"


def test_a_signed_payload_comes_back_and_anything_else_does_not():
    signer = Signer(KEY, "proposal")
    token = signer.sign({"kind": "refund", "n": 1})
    assert signer.verify(token) == {"kind": "refund", "n": 1}
    body, mac = token.split(".")
    tampered = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac
    for bad in (tampered, token + "x", "a.b", "", None, 42, "x" * 5000, "not-a-token",
                Signer(KEY, "identity").sign({"kind": "refund", "n": 1}), Signer(KEY + "!", "proposal").sign({})):
        assert signer.verify(bad) is None


def test_a_missing_or_short_key_is_a_clear_error():
    with pytest.raises(SigningError, match="CARELINE_SIGNING_KEY"):
        Signer("", "proposal")
    with pytest.raises(SigningError):
        Signer("short", "proposal")
