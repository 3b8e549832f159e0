from __future__ import annotations

import hmac

import pytest

from credgate.security.secrets import (
    SECRET_PATTERN,
    SecretHasher,
    generate_client_id,
    generate_secret,
    has_valid_checksum,
)


def test_secret_format_prefix_entropy_and_checksum() -> None:
    secrets = {generate_secret() for _ in range(200)}
    assert len(secrets) == 200
    for secret in secrets:
        assert secret.startswith("cgs_")
        assert len(secret) == 4 + 43 + 6
        assert SECRET_PATTERN.fullmatch(secret)
        assert has_valid_checksum(secret)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),
        lambda s: s[:10] + ("x" if s[10] != "x" else "y") + s[11:],
        lambda s: "cgx" + s[3:],
        lambda s: s + "a",
        lambda s: s[:-1],
        lambda s: s.replace("_", "-"),
    ],
)
def test_checksum_rejects_damaged_secrets(mutate: object) -> None:
    secret = generate_secret()
    assert not has_valid_checksum(mutate(secret))  # type: ignore[operator]


def test_client_id_shape() -> None:
    client_id = generate_client_id()
    assert len(client_id) == 32
    assert client_id.isalnum()
    assert client_id.lower() == client_id


def test_hasher_is_keyed_and_hides_its_pepper() -> None:
    a, b = SecretHasher(b"a" * 32), SecretHasher(b"b" * 32)
    assert a.hash("x") != b.hash("x")
    assert a.verify("x", a.hash("x"))
    assert not a.verify("y", a.hash("x"))
    assert "a" * 32 not in repr(a)
    with pytest.raises(ValueError, match="32 bytes"):
        SecretHasher(b"short")


def test_hash_is_hmac_sha256_of_the_pepper_call_after_call() -> None:
    # Stored hashes must keep verifying: the prepared key hashes exactly as a fresh HMAC does,
    # and one secret leaves nothing behind for the next.
    pepper = bytes(range(48))
    hasher = SecretHasher(pepper)
    for secret in ["cgs_a", "cgs_b", "", "é" * 100, "cgs_a"]:
        assert hasher.hash(secret) == hmac.new(pepper, secret.encode(), "sha256").hexdigest()
