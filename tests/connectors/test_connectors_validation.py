"""Connector credential validation: every rule, table-driven, and the secret/mask promises."""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import asyncssh
import pytest

import credgate.connectors.credentials as credentials_pkg
from credgate.connectors.credentials import (
    MASK,
    OBTAINED_SECRET_FIELDS,
    SECRET_FIELDS,
    AuthType,
    CredentialValidationError,
    FieldError,
    Protocol,
    Secrets,
    ValidatedCredential,
    masked_view,
    obtained_tokens_outdated,
    validate_create,
    validate_update,
)
from credgate.connectors.hostkeys import MD5_FINGERPRINT_MESSAGE
from credgate.core.destinations import DestinationPolicy

HOST_KEY = (
    asyncssh.generate_private_key("ecdsa-sha2-nistp256", comment="sftp.example.com")
    .export_public_key("openssh")
    .decode()
    .strip()
)
CANONICAL_HOST_KEY = " ".join(HOST_KEY.split()[:2])
OTHER_HOST_KEY = (
    asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().strip()
)
#: Every address allowed: for the rules of the address syntax alone (the destination policy
#: has its own tests).
OPEN = DestinationPolicy.from_entries(["0.0.0.0/0", "::/0"])

PASSWORD = "pa55:w0rd-with-colon"
TOKEN = "tok-3f1c9a77b2"
CLIENT_SECRET = "cs-8d2e4f6a0b"


def https(auth: dict[str, Any], url: str = "https://ven01063.service-now.com/") -> dict[str, Any]:
    return {"name": "ServiceNow", "protocol": "HTTPS", "url": url, "authorization": auth}


def sftp(auth: dict[str, Any], url: str = "sftp://sftp.example.com:22/") -> dict[str, Any]:
    return {"name": "Exports", "protocol": "SFTP", "url": url, "authorization": auth}


BASIC = {"type": "BASIC", "username": "svc", "password": PASSWORD}
BEARER = {"type": "BEARER", "token": TOKEN}
CLIENT_CREDENTIALS = {
    "type": "OAUTH2_CLIENT_CREDENTIALS",
    "client_id": "cid",
    "client_secret": CLIENT_SECRET,
    "access_token_url": "https://login.example.com/oauth/token",
}
AUTH_CODE = {
    "type": "OAUTH2_AUTHORIZATION_CODE",
    "client_id": "cid",
    "client_secret": CLIENT_SECRET,
    "authorization_url": "https://login.example.com/oauth/authorize",
    "access_token_url": "https://login.example.com/oauth/token",
    "scope": "read write",
}
SFTP_BASIC = {"type": "BASIC", "username": "exporter", "password": PASSWORD, "host_key": HOST_KEY}


def errors_of(data: object, stored: ValidatedCredential | None = None) -> list[FieldError]:
    with pytest.raises(CredentialValidationError) as info:
        _validate(data, stored)
    return info.value.errors


def _validate(data: object, stored: ValidatedCredential | None) -> ValidatedCredential:
    return validate_create(data) if stored is None else validate_update(data, stored)


def single_error(data: object, stored: ValidatedCredential | None = None) -> FieldError:
    errors = errors_of(data, stored)
    assert len(errors) == 1, errors
    return errors[0]


# -- the package surface ------------------------------------------------------------------


def test_public_names() -> None:
    # submodules (errors, schemas, ..., and the storage, service and view modules once
    # imported) are attributes of the package but not its public names
    assert set(credentials_pkg.__all__) == {
        name
        for name, value in vars(credentials_pkg).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def test_secret_fields_per_type() -> None:
    assert dict(SECRET_FIELDS) == {
        AuthType.NONE: frozenset(),
        AuthType.BASIC: {"password"},
        AuthType.BEARER: {"token"},
        AuthType.OAUTH2_CLIENT_CREDENTIALS: {"client_secret"},
        AuthType.OAUTH2_AUTHORIZATION_CODE: {"client_secret"},
    }
    assert OBTAINED_SECRET_FIELDS[AuthType.OAUTH2_AUTHORIZATION_CODE] == {
        "access_token",
        "refresh_token",
    }


# -- HTTPS instance URLs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        # every instance URL of the documented table
        ("https://ven01063.service-now.com/", "https://ven01063.service-now.com/"),
        ("https://serverName:8443/", "https://servername:8443/"),
        ("https://host.domain/", "https://host.domain/"),
        ("https://tenant.saasit.com/", "https://tenant.saasit.com/"),
        ("https://api.freshservice.com/", "https://api.freshservice.com/"),
        ("https://api.4me.com/", "https://api.4me.com/"),
        ("https://myco.atlassian.net/", "https://myco.atlassian.net/"),
        # accepted variants, normalised
        ("https://api.4me.com", "https://api.4me.com/"),
        ("HTTPS://API.4ME.COM/", "https://api.4me.com/"),
        ("  https://myco.atlassian.net/  ", "https://myco.atlassian.net/"),
        ("https://10.1.2.3:8443/", "https://10.1.2.3:8443/"),
        ("https://[2001:db8::1]:8443/", "https://[2001:db8::1]:8443/"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("https://host:1/", "https://host:1/"),
        ("https://host:65535/", "https://host:65535/"),
    ],
)
def test_https_instance_urls_accepted(url: str, normalised: str) -> None:
    assert validate_create(https({"type": "NONE"}, url=url), destinations=OPEN).url == normalised


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://ven01063.service-now.com/", "must use https:// (plain http:// is not allowed)"),
        ("ven01063.service-now.com", "must start with https://"),
        ("ftp://host/", "must use https://, not ftp://"),
        ("https://ven01063.service-now.com/api/now/table/incident", "without a path"),
        ("https://api.freshservice.com/v1/#update", "fragment"),
        ("https://host/?a=1", "query"),
        ("https://host/?", "query"),
        ("https://user:secretpw@host/", "must not contain a username or password"),
        ("https://host:0/", "port must be a number from 1 to 65535"),
        ("https://host:65536/", "port must be a number from 1 to 65535"),
        ("https://serverName:port/", "port must be a number from 1 to 65535"),
        ("https:///", "host is missing"),
        ("https://bad_host!/", "not a valid host name"),
        ("https://-leading.example/", "not a valid host name"),
        ("https://host name/", "spaces"),
        ("https://ho\x00st/", "control"),
        ("https://[::1/", "not a valid URL"),
        ("", "is required"),
        ("https://" + "a" * 2050 + "/", "too long"),
    ],
)
def test_https_instance_urls_refused(url: str, message: str) -> None:
    error = single_error(https({"type": "NONE"}, url=url))
    assert error.field == "url"
    assert message in error.message


def test_url_messages_never_echo_the_url() -> None:
    error = single_error(https({"type": "NONE"}, url="https://admin:hunter2pw@host/"))
    assert "hunter2pw" not in error.message
    error = single_error(https({"type": "NONE"}, url="https://hooks.example/T0/B0/s3cr3tpath"))
    assert "s3cr3tpath" not in error.message


def test_url_must_be_a_string() -> None:
    error = single_error(https({"type": "NONE"}, url=42))  # type: ignore[arg-type]
    assert (error.field, error.message) == ("url", "must be a string")


# -- SFTP hostnames ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("sftp://sftp.example.com:22/", "sftp://sftp.example.com:22/"),
        ("sftp://sftp.example.com:2222", "sftp://sftp.example.com:2222/"),
        ("SFTP://10.0.0.5:22/", "sftp://10.0.0.5:22/"),
        ("sftp://[::1]:2022/", "sftp://[::1]:2022/"),
    ],
)
def test_sftp_urls_accepted(url: str, normalised: str) -> None:
    assert validate_create(sftp(SFTP_BASIC, url=url), destinations=OPEN).url == normalised


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sftp://sftp.example.com/", "port is required"),
        ("sftp://sftp.example.com:/", "port is required"),
        ("sftp.example.com:22", "must start with sftp://"),
        ("ssh://sftp.example.com:22/", "must use sftp://, not ssh://"),
        ("https://sftp.example.com:22/", "must use sftp://, not https://"),
        ("sftp://exporter@sftp.example.com:22/", "username or password"),
        ("sftp://sftp.example.com:22/upload", "without a path"),
        ("sftp://sftp.example.com:99999/", "port must be a number"),
    ],
)
def test_sftp_urls_refused(url: str, message: str) -> None:
    error = single_error(sftp(SFTP_BASIC, url=url))
    assert error.field == "url"
    assert message in error.message


# -- authorization types ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "auth_type", "public", "secrets"),
    [
        (https({"type": "NONE"}), AuthType.NONE, {}, {}),
        (https({"type": "none"}), AuthType.NONE, {}, {}),
        (https(BASIC), AuthType.BASIC, {"username": "svc"}, {"password": PASSWORD}),
        (
            https({**BASIC, "username": "  svc  ", "password": "  spaced  "}),
            AuthType.BASIC,
            {"username": "svc"},
            {"password": "  spaced  "},  # passwords are kept exactly as typed
        ),
        (https(BEARER), AuthType.BEARER, {"header_prefix": "Bearer"}, {"token": TOKEN}),
        (
            https({**BEARER, "header_prefix": ""}),
            AuthType.BEARER,
            {"header_prefix": "Bearer"},
            {"token": TOKEN},
        ),
        (
            https({**BEARER, "header_prefix": " SSWS ", "token": f" {TOKEN}\n"}),
            AuthType.BEARER,
            {"header_prefix": "SSWS"},
            {"token": TOKEN},
        ),
        (
            https(CLIENT_CREDENTIALS),
            AuthType.OAUTH2_CLIENT_CREDENTIALS,
            {"client_id": "cid", "access_token_url": "https://login.example.com/oauth/token"},
            {"client_secret": CLIENT_SECRET},
        ),
        (
            https(
                {
                    **CLIENT_CREDENTIALS,
                    "scope": "  api.read   api.write ",
                    "access_token_url": "HTTPS://Login.Example.com:8443/t?tenant=Acme",
                }
            ),
            AuthType.OAUTH2_CLIENT_CREDENTIALS,
            {
                "client_id": "cid",
                "access_token_url": "https://login.example.com:8443/t?tenant=Acme",
                "scope": "api.read api.write",
            },
            {"client_secret": CLIENT_SECRET},
        ),
        (
            https(AUTH_CODE),
            AuthType.OAUTH2_AUTHORIZATION_CODE,
            {
                "client_id": "cid",
                "authorization_url": "https://login.example.com/oauth/authorize",
                "access_token_url": "https://login.example.com/oauth/token",
                "scope": "read write",
            },
            {"client_secret": CLIENT_SECRET},
        ),
        (
            sftp(SFTP_BASIC),
            AuthType.BASIC,
            {"username": "exporter", "host_key": CANONICAL_HOST_KEY},
            {"password": PASSWORD},
        ),
        (
            sftp({k: v for k, v in SFTP_BASIC.items() if k != "type"}),  # BASIC is the default
            AuthType.BASIC,
            {"username": "exporter", "host_key": CANONICAL_HOST_KEY},
            {"password": PASSWORD},
        ),
        (
            sftp(
                {
                    **SFTP_BASIC,
                    "host_key": f"# sftp.example.com:22 SSH-2.0-OpenSSH_9.6\r\n{HOST_KEY}\n",
                }
            ),
            AuthType.BASIC,
            {"username": "exporter", "host_key": CANONICAL_HOST_KEY},
            {"password": PASSWORD},
        ),
        (
            sftp({**SFTP_BASIC, "host_key": f"sftp.example.com {HOST_KEY}"}),  # keyscan form
            AuthType.BASIC,
            {"username": "exporter", "host_key": CANONICAL_HOST_KEY},
            {"password": PASSWORD},
        ),
    ],
)
def test_valid_credentials(
    data: dict[str, Any], auth_type: AuthType, public: dict[str, str], secrets: dict[str, str]
) -> None:
    cred = validate_create(data)
    assert cred.auth_type is auth_type
    assert dict(cred.authorization) == public
    assert dict(cred.secrets) == secrets
    assert set(cred.secrets) == SECRET_FIELDS[auth_type]


def test_sftp_credential_exposes_its_pinned_key() -> None:
    cred = validate_create(sftp(SFTP_BASIC))
    assert cred.host_key is not None
    assert cred.host_key.openssh == CANONICAL_HOST_KEY
    assert validate_create(https(BASIC)).host_key is None


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (https({**BASIC, "password": ""}), "authorization.password", "is required"),
        (https({"type": "BASIC", "password": PASSWORD}), "authorization.username", "is required"),
        (https({**BASIC, "username": "a:b"}), "authorization.username", "must not contain ':'"),
        (https({**BASIC, "username": "a\nb"}), "authorization.username", "control characters"),
        (https({**BASIC, "username": "u" * 257}), "authorization.username", "too long"),
        (https({**BASIC, "password": "p" * 8193}), "authorization.password", "8192 bytes"),
        (https({**BASIC, "password": "é" * 4097}), "authorization.password", "8192 bytes"),
        (https({**BASIC, "password": 1234}), "authorization.password", "must be a string"),
        (https({"type": "BEARER"}), "authorization.token", "is required"),
        (https({**BEARER, "token": "a\r\nX-Evil: 1"}), "authorization.token", "line breaks"),
        (https({**BEARER, "header_prefix": "Bear er"}), "authorization.header_prefix", "word"),
        (https({**BEARER, "header_prefix": "B" * 65}), "authorization.header_prefix", "too long"),
        (
            https({**CLIENT_CREDENTIALS, "access_token_url": "http://login.example.com/token"}),
            "authorization.access_token_url",
            "must use https://",
        ),
        (
            https({**CLIENT_CREDENTIALS, "access_token_url": "https://login/t#frag"}),
            "authorization.access_token_url",
            "fragment",
        ),
        (
            https({**CLIENT_CREDENTIALS, "access_token_url": "https://u:p@login/t"}),
            "authorization.access_token_url",
            "username or password",
        ),
        (
            https({**CLIENT_CREDENTIALS, "scope": 'read "all"'}),
            "authorization.scope",
            "RFC 6749 section 3.3",
        ),
        (
            https({k: v for k, v in AUTH_CODE.items() if k != "authorization_url"}),
            "authorization.authorization_url",
            "is required",
        ),
        (
            https({**AUTH_CODE, "authorization_url": "http://login.example.com/authorize"}),
            "authorization.authorization_url",
            "must use https://",
        ),
        (
            sftp({**SFTP_BASIC, "host_key": "da:47:93:b4:3a:90:5b:50:1f:20:a8:f9:b7:a1:d0:e1"}),
            "authorization.host_key",
            MD5_FINGERPRINT_MESSAGE,
        ),
        (
            sftp({**SFTP_BASIC, "host_key": "ssh-dss AAAAB3NzaC1kc3M="}),
            "authorization.host_key",
            "is not supported",
        ),
        (sftp({**SFTP_BASIC, "host_key": ""}), "authorization.host_key", "is required"),
        (sftp({**SFTP_BASIC, "type": "BEARER"}), "authorization.type", "allowed values: BASIC"),
        (https({"type": "KERBEROS"}), "authorization.type", "'KERBEROS' is not allowed"),
        (https({}), "authorization.type", "is required; allowed values: NONE, BASIC, BEARER"),
        (https({"type": 7}), "authorization.type", "must be one of"),
        ({**https({"type": "NONE"}), "authorization": "BASIC"}, "authorization", "object"),
        ({**https({"type": "NONE"}), "protocol": "FTP"}, "protocol", "allowed values: HTTPS, SFTP"),
        ({**https({"type": "NONE"}), "protocol": None}, "protocol", "is required"),
        ({**https({"type": "NONE"}), "name": "   "}, "name", "is required"),
        ({**https({"type": "NONE"}), "name": "n" * 201}, "name", "at most 200"),
        ({**https({"type": "NONE"}), "name": "a\tb"}, "name", "control characters"),
        ({**https({"type": "NONE"}), "nmae": "typo"}, "nmae", "unknown field"),
        (https({**BASIC, "pasword": "x"}), "authorization.pasword", "unknown field for type BASIC"),
        (https({"type": "NONE", "username": "u"}), "authorization.username", "unknown field"),
        (
            https({**AUTH_CODE, "refresh_token": "rt"}),
            "authorization.refresh_token",
            "obtained by credgate at run time",
        ),
        (https({**BASIC, "a b\nc": 1}), "authorization.<unrecognised field>", "unknown field"),
    ],
)
def test_refusals(data: dict[str, Any], field: str, message: str) -> None:
    error = single_error(data)
    assert error.field == field
    assert message in error.message


def test_not_a_mapping() -> None:
    error = single_error(["name", "x"])
    assert error.field == ""
    assert "must be an object" in error.message


def test_unknown_protocol_skips_the_fields_that_depend_on_it() -> None:
    errors = errors_of({"name": "x", "protocol": "GOPHER", "url": "gopher://x/"})
    assert [e.field for e in errors] == ["protocol"]


def test_every_problem_is_reported_at_once() -> None:
    data = {
        "name": "",
        "protocol": "https",
        "url": "http://ven01063.service-now.com/api",
        "authorization": {
            "type": "OAUTH2_CLIENT_CREDENTIALS",
            "client_id": "",
            "client_secret": MASK,
            "access_token_url": "ftp://login/",
            "scope": "a\\b",
            "clientsecret": "typo",
        },
        "colour": "blue",
    }
    errors = errors_of(data)
    assert sorted(e.field for e in errors) == sorted(
        [
            "colour",
            "name",
            "url",
            "authorization.clientsecret",
            "authorization.client_id",
            "authorization.access_token_url",
            "authorization.scope",
            "authorization.client_secret",
        ]
    )


def test_error_text_lists_fields_and_never_secrets() -> None:
    data = https({**BEARER, "token": TOKEN + "\x00", "header_prefix": "Bad Prefix"}, url="x")
    with pytest.raises(CredentialValidationError) as info:
        validate_create(data)
    text = str(info.value)
    assert "url:" in text
    assert "authorization.token:" in text
    assert "authorization.header_prefix:" in text
    assert TOKEN not in text
    assert info.value.fields == ["url", "authorization.token", "authorization.header_prefix"]


# -- secrets never shown --------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [https(BASIC), https(BEARER), https(CLIENT_CREDENTIALS), https(AUTH_CODE), sftp(SFTP_BASIC)],
)
def test_repr_and_str_never_show_secrets(data: dict[str, Any]) -> None:
    cred = validate_create(data)
    for text in (repr(cred), str(cred), repr(cred.secrets), str(cred.secrets), f"{cred}"):
        for secret in (PASSWORD, TOKEN, CLIENT_SECRET):
            assert secret not in text
    assert "<hidden>" in repr(cred)


@pytest.mark.parametrize(
    "data",
    [https(BASIC), https(BEARER), https(CLIENT_CREDENTIALS), https(AUTH_CODE), sftp(SFTP_BASIC)],
)
def test_masked_view_shows_the_mask_never_the_value(data: dict[str, Any]) -> None:
    cred = validate_create(data)
    view = masked_view(cred)
    for secret in (PASSWORD, TOKEN, CLIENT_SECRET):
        assert secret not in repr(view)
    for name in SECRET_FIELDS[cred.auth_type]:
        assert view["authorization"][name] == MASK
    assert view["authorization"]["type"] == cred.auth_type.value
    assert view["url"] == cred.url


def test_masked_view_has_every_field_of_the_type() -> None:
    view = masked_view(validate_create(https(CLIENT_CREDENTIALS)))
    assert view == {
        "name": "ServiceNow",
        "protocol": "HTTPS",
        "url": "https://ven01063.service-now.com/",
        "authorization": {
            "type": "OAUTH2_CLIENT_CREDENTIALS",
            "client_id": "cid",
            "client_secret": MASK,
            "access_token_url": "https://login.example.com/oauth/token",
            "scope": "",
        },
    }


def test_credential_is_immutable() -> None:
    cred = validate_create(https(BASIC))
    with pytest.raises(AttributeError):
        cred.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cred.authorization["username"] = "other"  # type: ignore[index]
    with pytest.raises(TypeError):
        cred.secrets["password"] = "other"  # type: ignore[index]


def test_secrets_compare_by_value() -> None:
    assert Secrets({"password": "a"}) == Secrets({"password": "a"})
    assert Secrets({"password": "a"}) == {"password": "a"}
    assert Secrets({"password": "a"}) != Secrets({"password": "b"})
    assert Secrets({"password": "a"}) != Secrets({"token": "a"})
    assert Secrets({"password": "a"}) != {"password": 1}
    assert Secrets({"password": "a"}) != ["password"]
    cred = validate_create(https(BASIC))
    assert cred == validate_create(https(BASIC))
    assert cred != validate_create(https({**BASIC, "password": "other"}))
    assert hash(cred) == hash(validate_create(https(BASIC)))


def test_copies_keep_secrets_hidden() -> None:
    cred = validate_create(https(BASIC))
    clone = copy.deepcopy(cred)
    assert clone == cred
    assert PASSWORD not in repr(clone)
    assert pickle.loads(pickle.dumps(cred)) == cred  # noqa: S301 - our own data


# -- the mask on create and update ---------------------------------------------------------


@pytest.mark.parametrize("mask", [MASK, "\u2022" * 5, f" {MASK} ", "\u25cf" * 8])
def test_mask_refused_on_create(mask: str) -> None:
    error = single_error(https({**BASIC, "password": mask}))
    assert error.field == "authorization.password"
    assert "enter the real value" in error.message


@pytest.mark.parametrize(
    "data",
    [https(BASIC), https(BEARER), https(CLIENT_CREDENTIALS), https(AUTH_CODE), sftp(SFTP_BASIC)],
)
def test_mask_round_trip_keeps_the_stored_secrets(data: dict[str, Any]) -> None:
    stored = validate_create(data)
    updated = validate_update(masked_view(stored), stored)
    assert updated == stored
    assert dict(updated.secrets) == dict(stored.secrets)
    assert MASK not in updated.secrets.values()
    assert not obtained_tokens_outdated(stored, updated)


def test_mask_keeps_secret_while_public_fields_change() -> None:
    stored = validate_create(https(BASIC))
    view = masked_view(stored)
    view["name"] = "Renamed"
    view["authorization"]["username"] = "svc2"
    updated = validate_update(view, stored)
    assert updated.name == "Renamed"
    assert updated.authorization["username"] == "svc2"
    assert updated.secrets["password"] == PASSWORD


def test_new_value_replaces_the_stored_secret() -> None:
    stored = validate_create(https(BEARER))
    view = masked_view(stored)
    view["authorization"]["token"] = "fresh-token"
    updated = validate_update(view, stored)
    assert updated.secrets["token"] == "fresh-token"


def test_type_change_drops_old_secrets_and_refuses_the_mask() -> None:
    stored = validate_create(https(BASIC))
    # a bearer form sent with the mask the basic view showed
    error = single_error(https({"type": "BEARER", "token": MASK}), stored)
    assert error.field == "authorization.token"
    assert "authorization type changed" in error.message
    # with a real value, the old password is gone
    updated = validate_update(https({"type": "BEARER", "token": TOKEN}), stored)
    assert dict(updated.secrets) == {"token": TOKEN}
    assert obtained_tokens_outdated(stored, updated)


def test_same_field_name_in_another_type_is_not_carried_over() -> None:
    # client_secret exists in both OAuth 2.0 types; the stored one must not cross over
    stored = validate_create(https(CLIENT_CREDENTIALS))
    error = single_error(https({**AUTH_CODE, "client_secret": MASK}), stored)
    assert error.field == "authorization.client_secret"
    assert "authorization type changed" in error.message


def test_protocol_change_refuses_the_mask() -> None:
    stored = validate_create(https(BASIC, url="https://sftp.example.com/"))
    error = single_error(sftp({**SFTP_BASIC, "password": MASK}), stored)
    assert error.field == "authorization.password"
    assert error.message == (
        "the protocol changed, so the stored secret is not kept; enter the real value"
    )


@pytest.mark.parametrize(
    ("data", "edit", "field", "label"),
    [
        (https(BASIC), ("url", "https://attacker.example/"), "authorization.password", "URL"),
        (https(BEARER), ("url", "https://attacker.example/"), "authorization.token", "URL"),
        (sftp(SFTP_BASIC), ("url", "sftp://attacker.example:22/"), "authorization.password", "URL"),
        (
            https(CLIENT_CREDENTIALS),
            ("access_token_url", "https://attacker.example/token"),
            "authorization.client_secret",
            "access token url",
        ),
        (
            https(AUTH_CODE),
            ("access_token_url", "https://attacker.example/token"),
            "authorization.client_secret",
            "access token url",
        ),
        # the token obtained with the secret goes to the instance URL
        (
            https(CLIENT_CREDENTIALS),
            ("url", "https://attacker.example/"),
            "authorization.client_secret",
            "URL",
        ),
        (
            https(AUTH_CODE),
            ("url", "https://attacker.example/"),
            "authorization.client_secret",
            "URL",
        ),
        (
            https(AUTH_CODE),
            ("authorization_url", "https://attacker.example/authorize"),
            "authorization.client_secret",
            "authorization url",
        ),
        # the SFTP password goes to whichever server shows the pinned key, on that host and port
        (sftp(SFTP_BASIC), ("host_key", OTHER_HOST_KEY), "authorization.password", "host key"),
        (
            sftp(SFTP_BASIC),
            ("url", "sftp://sftp.example.com:2222/"),
            "authorization.password",
            "URL",
        ),
    ],
)
def test_mask_not_kept_when_the_secret_would_go_elsewhere(
    data: dict[str, Any], edit: tuple[str, str], field: str, label: str
) -> None:
    stored = validate_create(data)
    view = masked_view(stored)
    key, value = edit
    if key == "url":
        view["url"] = value
    else:
        view["authorization"][key] = value
    error = single_error(view, stored)
    assert error.field == field
    assert label in error.message
    assert "enter the real value" in error.message


def test_every_changed_destination_field_is_named() -> None:
    stored = validate_create(https(AUTH_CODE))
    view = masked_view(stored)
    view["url"] = "https://attacker.example/"
    view["authorization"]["access_token_url"] = "https://attacker.example/token"
    error = single_error(view, stored)
    assert error.field == "authorization.client_secret"
    assert error.message == (
        "the URL and the access token url changed, so the stored secret is not sent to the new "
        "destination; enter the real value"
    )


def test_tokens_are_outdated_when_the_destination_changes() -> None:
    for data, edit in (
        (https(CLIENT_CREDENTIALS), {"url": "https://other.example/"}),
        (https(AUTH_CODE), {"url": "https://other.example/"}),
    ):
        stored = validate_create(data)
        moved = validate_update({**data, **edit}, stored)  # the secret entered again
        assert dict(moved.secrets) == dict(stored.secrets)
        assert obtained_tokens_outdated(stored, moved)
        assert moved.destination != stored.destination


def test_url_change_with_a_new_secret_is_fine() -> None:
    stored = validate_create(https(BASIC))
    view = masked_view(stored)
    view["url"] = "https://other.example/"
    view["authorization"]["password"] = "new-password"
    assert validate_update(view, stored).secrets["password"] == "new-password"


def test_url_spelled_differently_but_equal_keeps_the_secret() -> None:
    stored = validate_create(https(BASIC))
    view = masked_view(stored)
    view["url"] = "HTTPS://VEN01063.service-now.com"
    assert validate_update(view, stored).secrets["password"] == PASSWORD


def test_mask_with_an_invalid_binding_reports_only_the_address() -> None:
    stored = validate_create(https(BASIC))
    view = masked_view(stored)
    view["url"] = "http://ven01063.service-now.com/"
    assert [e.field for e in errors_of(view, stored)] == ["url"]


def test_mask_for_a_field_with_no_stored_value() -> None:
    stored = ValidatedCredential(
        name="x",
        protocol=Protocol.HTTPS,
        url="https://h/",
        auth_type=AuthType.BASIC,
        authorization={"username": "u"},
        secrets={},  # type: ignore[arg-type]
    )
    error = single_error(https({**BASIC, "password": MASK}, url="https://h/"), stored)
    assert "no value is stored" in error.message


def test_mask_in_an_update_never_becomes_a_value() -> None:
    stored = validate_create(https(CLIENT_CREDENTIALS))
    for data in (
        https({**CLIENT_CREDENTIALS, "client_secret": MASK}),
        https({**CLIENT_CREDENTIALS, "client_secret": "\u2022" * 3}),
    ):
        updated = validate_update(data, stored)
        assert updated.secrets["client_secret"] == CLIENT_SECRET


def test_obtained_tokens_outdated_when_the_client_changes() -> None:
    stored = validate_create(https(AUTH_CODE))
    same = validate_update(masked_view(stored), stored)
    assert not obtained_tokens_outdated(stored, same)
    for key, value in (
        ("client_id", "cid2"),
        ("scope", "read"),
        ("authorization_url", "https://login.example.com/other"),
        ("client_secret", "new-secret"),
    ):
        view = masked_view(stored)
        view["authorization"][key] = value
        if key == "authorization_url":  # a new destination: the secret is entered again
            view["authorization"]["client_secret"] = CLIENT_SECRET
        assert obtained_tokens_outdated(stored, validate_update(view, stored)), key
    basic = validate_create(https(BASIC))
    renamed = validate_update({**masked_view(basic), "name": "other"}, basic)
    assert not obtained_tokens_outdated(basic, renamed)


def test_core_modules_import_no_web_framework() -> None:
    """The connector core stays framework-free: importing it loads no web or storage stack."""
    code = (
        "import sys\n"
        "import credgate.connectors.credentials, credgate.connectors.hostkeys\n"
        "import credgate.connectors.sftp\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'fastapi', 'starlette', 'sqlalchemy', 'uvicorn', 'jinja2'})\n"
        "print(','.join(bad))\n"
    )
    src = Path(credentials_pkg.__file__).parents[3]
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == ""
