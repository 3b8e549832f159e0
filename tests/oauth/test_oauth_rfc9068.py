"""RFC 9068 access tokens as issued: the JOSE header, exact claims, and signatures that verify."""

from __future__ import annotations

import base64
import datetime as dt
import json
import string

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey

from credgate.oauth.errors import InvalidToken
from credgate.oauth.rfc9068 import AccessTokenVerifier, _der_to_raw, issue_access_token
from credgate.security.keys import KeySet, LoadedKey

ISSUER = "http://127.0.0.1:8000/oauth2/default"
AUDIENCE = "http://127.0.0.1:8000"


def loaded_key() -> LoadedKey:
    key = ECKey.generate_key("P-256", auto_kid=True)
    kid = str(key.kid)
    return LoadedKey(
        kid=kid,
        generation=1,
        key=key,
        public_jwk={**key.as_dict(private=False), "kid": kid},
        created_at=dt.datetime.now(dt.UTC),
        retired_at=None,
        publish_until=None,
    )


def segment(token: str, index: int) -> dict[str, object]:
    part = token.split(".")[index]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def test_header_and_claims_are_exactly_rfc_9068() -> None:
    key = loaded_key()
    keys = KeySet(active=key, published=(key,))
    issued = issue_access_token(
        keys,
        issuer=ISSUER,
        audience=AUDIENCE,
        client_id="0oa5dl0lnsjz6wqr8x1",
        scopes=["nql", "workflows"],
        ttl=900,
        now=1_700_000_000,
    )
    assert segment(issued.access_token, 0) == {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
    assert segment(issued.access_token, 1) == {
        "iss": ISSUER,
        "sub": "0oa5dl0lnsjz6wqr8x1",
        "client_id": "0oa5dl0lnsjz6wqr8x1",
        "aud": AUDIENCE,
        "iat": 1_700_000_000,
        "exp": 1_700_000_900,
        "jti": issued.jti,
        "scope": "nql workflows",
    }
    assert issued.expires_at == 1_700_000_900
    # The signature is 64 octets of R || S (RFC 7518 §3.4), not DER.
    signature = issued.access_token.split(".")[2]
    assert len(base64.urlsafe_b64decode(signature + "==")) == 64
    decoded = jwt.decode(issued.access_token, key.key, algorithms=["ES256"])
    assert decoded.claims["jti"] == issued.jti


# Any text at all in the string claims: quotes, backslashes, control characters, non-ASCII,
# lone surrogates excluded (they are not encodable as UTF-8 JSON).
_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(issuer=_TEXT, audience=_TEXT, client_id=_TEXT, scopes=st.lists(_TEXT, max_size=4))
def test_any_claim_text_round_trips_exactly(
    issuer: str, audience: str, client_id: str, scopes: list[str]
) -> None:
    key = _KEY
    issued = issue_access_token(
        KeySet(active=key, published=(key,)),
        issuer=issuer,
        audience=audience,
        client_id=client_id,
        scopes=scopes,
        ttl=60,
        now=1_700_000_000,
    )
    claims = segment(issued.access_token, 1)
    assert claims == {
        "iss": issuer,
        "sub": client_id,
        "client_id": client_id,
        "aud": audience,
        "iat": 1_700_000_000,
        "exp": 1_700_000_060,
        "jti": issued.jti,
        "scope": " ".join(scopes),
    }
    assert list(claims) == ["iss", "sub", "client_id", "aud", "iat", "exp", "jti", "scope"]
    assert jwt.decode(issued.access_token, key.key, algorithms=["ES256"]).claims == claims


_KEY = loaded_key()
# The order of P-256: r and s are below it.
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@settings(max_examples=300, deadline=None)
@given(
    r=st.one_of(st.sampled_from([1, 127, 128, 2**248 - 1, 2**255, _N - 1]), st.integers(1, _N - 1)),
    s=st.one_of(st.sampled_from([1, 255, 256, 2**255 - 1, 2**255, _N - 1]), st.integers(1, _N - 1)),
)
def test_signature_der_becomes_r_and_s_in_32_octets_each(r: int, s: int) -> None:
    # Short integers (leading zero octets dropped) and long ones (a zero octet added to keep
    # them positive) both come out as 32 octets.
    assert _der_to_raw(encode_dss_signature(r, s)) == r.to_bytes(32, "big") + s.to_bytes(32, "big")


def test_jti_is_128_random_bits_in_base64url() -> None:
    keys = KeySet(active=_KEY, published=(_KEY,))
    jtis = {
        issue_access_token(
            keys, issuer=ISSUER, audience=AUDIENCE, client_id="c", scopes=[], ttl=60
        ).jti
        for _ in range(200)
    }
    assert len(jtis) == 200
    for jti in jtis:
        assert len(jti) == 22
        assert len(base64.urlsafe_b64decode(jti + "==")) == 16
        assert set(jti) <= set(string.ascii_letters + string.digits + "-_")


def test_a_new_active_key_signs_at_once_and_the_old_key_no_longer_verifies_it() -> None:
    first, second = loaded_key(), loaded_key()
    current = {"keys": KeySet(active=first, published=(first,))}
    verifier = AccessTokenVerifier(
        lambda: current["keys"], issuer=ISSUER, audience=AUDIENCE, leeway=0
    )

    def issue() -> str:
        return issue_access_token(
            current["keys"], issuer=ISSUER, audience=AUDIENCE, client_id="c1", scopes=[], ttl=60
        ).access_token

    before = issue()
    assert segment(before, 0)["kid"] == first.kid
    current["keys"] = KeySet(active=second, published=(second, first))
    after = issue()
    assert segment(after, 0)["kid"] == second.kid
    assert verifier.verify(before).client_id == "c1"
    assert verifier.verify(after).client_id == "c1"
    # Signed by the second key: the first key's public half does not verify it.
    with pytest.raises(Exception, match="signature"):
        jwt.decode(after, first.key, algorithms=["ES256"])
    current["keys"] = KeySet(active=second, published=(second,))
    with pytest.raises(InvalidToken, match="unknown key"):
        verifier.verify(before)
