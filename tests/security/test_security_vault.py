from __future__ import annotations

import base64

import pytest

from credgate.security.vault import MasterKeyError, Vault, VaultError, parse_master_keys

K1, K2 = b"1" * 32, b"2" * 32


def test_round_trip_and_version_tag() -> None:
    vault = Vault({1: K1})
    blob = vault.encrypt("s3cret", context="c:1:password")
    assert blob.startswith("v1.1.")
    assert "s3cret" not in blob
    assert vault.decrypt_text(blob, context="c:1:password") == "s3cret"


def test_context_binding_refuses_a_swapped_blob() -> None:
    vault = Vault({1: K1})
    blob = vault.encrypt("s3cret", context="c:1:password")
    with pytest.raises(VaultError, match="c:2:password"):
        vault.decrypt(blob, context="c:2:password")


def test_newest_version_encrypts_old_versions_decrypt_and_reencrypt() -> None:
    old = Vault({1: K1}).encrypt("v", context="x")
    both = Vault({1: K1, 2: K2})
    assert both.current_version == 2
    assert both.decrypt_text(old, context="x") == "v"
    new = both.reencrypt(old, context="x")
    assert Vault.key_version(new) == 2
    assert Vault({2: K2}).decrypt_text(new, context="x") == "v"


def test_missing_or_wrong_key() -> None:
    blob = Vault({1: K1}).encrypt("v", context="x")
    with pytest.raises(MasterKeyError, match="version 1"):
        Vault({2: K2}).decrypt(blob, context="x")
    with pytest.raises(VaultError, match="wrong key"):
        Vault({1: K2}).decrypt(blob, context="x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no master key"),
        ("abc", "VERSION:BASE64"),
        ("1:!!!", "not valid base64"),
        (f"1:{base64.b64encode(b'short').decode()}", "32 bytes"),
        (f"0:{base64.b64encode(K1).decode()}", "VERSION >= 1"),
    ],
)
def test_parse_master_keys_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(MasterKeyError, match=message):
        parse_master_keys(text)


def test_repr_hides_keys() -> None:
    assert "1111" not in repr(Vault({1: K1}))
