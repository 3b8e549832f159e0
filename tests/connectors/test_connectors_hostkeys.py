"""Host key parsing: the formats ssh-keyscan and known_hosts print, and every refusal."""

from __future__ import annotations

import base64
import shutil
import struct
import subprocess
from pathlib import Path

import asyncssh
import pytest

from credgate.connectors.hostkeys import (
    MD5_FINGERPRINT_MESSAGE,
    HostKey,
    HostKeyError,
    parse_host_key,
)


def _public_line(alg: str, **kwargs: int) -> str:
    key = asyncssh.generate_private_key(alg, comment="root@sftp", **kwargs)
    return key.export_public_key("openssh").decode("ascii").strip()


@pytest.fixture(scope="module")
def ecdsa_line() -> str:
    return _public_line("ecdsa-sha2-nistp256")


@pytest.fixture(scope="module")
def ed25519_line() -> str:
    return _public_line("ssh-ed25519")


@pytest.fixture(scope="module")
def rsa_line() -> str:
    return _public_line("ssh-rsa", key_size=2048)


@pytest.mark.parametrize(
    "alg", ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-ed25519"]
)
def test_accepts_each_supported_key_type(alg: str) -> None:
    line = _public_line(alg)
    key = parse_host_key(line)
    assert key.key_type == alg
    kind, b64, _comment = line.split(" ", 2)
    assert key.openssh == f"{kind} {b64}"  # comment dropped


def test_accepts_rsa(rsa_line: str) -> None:
    assert parse_host_key(rsa_line).key_type == "ssh-rsa"


@pytest.mark.parametrize(
    "template",
    [
        "{line}",
        "  {line}  \n",
        "sftp.example.com {line}",  # ssh-keyscan output
        "[sftp.example.com]:2222 {line}",  # ssh-keyscan -p 2222 output
        "sftp.example.com,10.0.0.5 {line}",  # known_hosts with an address
        "# sftp.example.com:22 SSH-2.0-OpenSSH_9.6\nsftp.example.com {line}\n",
        "{type} {b64}",  # no comment
    ],
)
def test_accepts_keyscan_and_known_hosts_forms(ecdsa_line: str, template: str) -> None:
    kind, b64, _ = ecdsa_line.split(" ", 2)
    key = parse_host_key(template.format(line=ecdsa_line, type=kind, b64=b64))
    assert key.openssh == f"{kind} {b64}"
    assert key == parse_host_key(ecdsa_line)


def _blob_with_type(type_name: bytes, rest: bytes) -> str:
    return base64.b64encode(struct.pack(">I", len(type_name)) + type_name + rest).decode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("da:47:93:b4:3a:90:5b:50:1f:20:a8:f9:b7:a1:d0:e1", "MD5 fingerprint"),
        ("MD5:da:47:93:b4:3a:90:5b:50:1f:20:a8:f9:b7:a1:d0:e1", "MD5 fingerprint"),
        ("DA:47:93:B4:3A:90:5B:50:1F:20:A8:F9:B7:A1:D0:E1", "MD5 fingerprint"),
        ("SHA256:" + "A" * 43, "SHA256 fingerprint"),
        ("", "is required"),
        ("   \n# only a comment\n", "is required"),
        ("ecdsa-sha2-nistp256", "must be '<key type> <base64 key>'"),
        ("ssh-dss AAAAB3NzaC1kc3M=", "key type 'ssh-dss' is not supported"),
        ("rsa-sha2-256 AAAA", "key type 'rsa-sha2-256' is not supported"),
        (
            "ssh-ed25519-cert-v01@openssh.com AAAA",
            "key type 'ssh-ed25519-cert-v01@openssh.com' is not supported",
        ),
        ("ecdsa-sha2-nistp256 not*base64!", "not valid base64"),
        ("ecdsa-sha2-nistp256 AAAA", "not an SSH public key"),
        ("@cert-authority *.example.com ssh-rsa AAAA", "markers"),
        (
            "ecdsa-sha2-nistp256 "
            + _blob_with_type(b"ecdsa-sha2-nistp256", b"\x00\x00\x00\x08junk"),
            "not a valid 'ecdsa-sha2-nistp256' public key",
        ),
    ],
)
def test_refusals_have_clear_messages(text: str, expected: str) -> None:
    with pytest.raises(HostKeyError) as info:
        parse_host_key(text)
    assert expected in str(info.value)


def test_md5_message_says_what_to_paste() -> None:
    with pytest.raises(HostKeyError) as info:
        parse_host_key("da:47:93:b4:3a:90:5b:50:1f:20:a8:f9:b7:a1:d0:e1")
    assert str(info.value) == MD5_FINGERPRINT_MESSAGE
    assert "ssh-keyscan -t ecdsa" in MD5_FINGERPRINT_MESSAGE
    assert "ecdsa-sha2-nistp256 AAAA" in MD5_FINGERPRINT_MESSAGE


def test_type_on_the_line_must_match_the_blob(ecdsa_line: str, ed25519_line: str) -> None:
    ed_blob = ed25519_line.split()[1]
    with pytest.raises(HostKeyError) as info:
        parse_host_key(f"ecdsa-sha2-nistp256 {ed_blob}")
    assert "is a 'ssh-ed25519' key but the line says 'ecdsa-sha2-nistp256'" in str(info.value)


def test_several_keys_refused(ecdsa_line: str, ed25519_line: str) -> None:
    with pytest.raises(HostKeyError, match="exactly one"):
        parse_host_key(f"{ecdsa_line}\n{ed25519_line}")


def _mpint(value: int) -> bytes:
    data = value.to_bytes(value.bit_length() // 8 + 1, "big")  # leading zero keeps it positive
    return struct.pack(">I", len(data)) + data


def test_short_rsa_keys_refused() -> None:
    modulus = (1 << 767) | 0xFFFF_FFFF_FFFF_FFFF  # 768 bits, odd; generators refuse this size
    blob = _blob_with_type(b"ssh-rsa", _mpint(65537) + _mpint(modulus))
    with pytest.raises(HostKeyError, match="has 768 bits; at least 1024"):
        parse_host_key(f"ssh-rsa {blob}")


def test_too_long_refused() -> None:
    with pytest.raises(HostKeyError, match="too long"):
        parse_host_key("ssh-rsa " + "A" * 9000)


def test_non_string_refused() -> None:
    with pytest.raises(HostKeyError, match="must be a string"):
        parse_host_key(42)  # type: ignore[arg-type]


def test_matches_only_the_same_key(ecdsa_line: str) -> None:
    pinned = parse_host_key(ecdsa_line)
    same = asyncssh.import_public_key(ecdsa_line)
    other = asyncssh.import_public_key(_public_line("ecdsa-sha2-nistp256"))
    assert pinned.matches(same)
    assert pinned.matches(pinned.blob)
    assert pinned.matches(HostKey.from_asyncssh(same))
    assert not pinned.matches(other)
    assert not pinned.matches(HostKey.from_asyncssh(other))
    assert pinned.to_asyncssh() == same
    assert str(pinned) == pinned.openssh


def test_fingerprint_matches_asyncssh(ecdsa_line: str) -> None:
    key = asyncssh.import_public_key(ecdsa_line)
    assert parse_host_key(ecdsa_line).sha256_fingerprint() == key.get_fingerprint("sha256")


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
@pytest.mark.parametrize("kind", ["ecdsa", "ed25519", "rsa"])
def test_fingerprint_and_line_match_openssh(tmp_path: Path, kind: str) -> None:
    """Keys made by OpenSSH's own ssh-keygen parse, and the fingerprint is what it prints."""
    keyfile = tmp_path / f"id_{kind}"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "host", "-f", str(keyfile)],
        check=True,
        capture_output=True,
    )
    line = (tmp_path / f"id_{kind}.pub").read_text()
    printed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(keyfile) + ".pub"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[1]
    key = parse_host_key(line)
    assert key.sha256_fingerprint() == printed
    assert key.openssh == " ".join(line.split()[:2])


def test_public_names() -> None:
    import credgate.connectors.hostkeys as module

    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (name.isupper() or getattr(value, "__module__", None) == module.__name__)
    }
    assert set(module.__all__) == public
