"""JWT access tokens, `RFC 9068 <https://www.rfc-editor.org/rfc/rfc9068>`_.

§2.1: the header carries ``typ: at+jwt``; §2.2: the claims ``iss``, ``exp``, ``aud``, ``sub``,
``client_id``, ``iat`` and ``jti`` are required, with ``scope`` (§2.2.3) when scopes were granted.
For the client-credentials grant, ``sub`` is the client itself (§2.2: "the subject ... SHOULD
correspond to an identifier the authorization server uses to indicate the client application").

§4 lists what a resource server must check. :class:`AccessTokenVerifier` does all of it, and
passes every decoding option explicitly, so no library default decides what is accepted.
"""

from __future__ import annotations

import json
import os
import time
from binascii import b2a_base64
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from json.encoder import encode_basestring_ascii as _string
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from joserfc.jwt import JWTClaimsRegistry

from credgate.oauth.errors import InvalidToken
from credgate.security.keys import ALGORITHM, KeySet, LoadedKey

__all__ = ["AccessTokenVerifier", "IssuedToken", "issue_access_token"]

TOKEN_TYPE = "at+jwt"
# §4: "Resource servers MUST verify that the typ header value is "at+jwt" or
# "application/at+jwt" and reject tokens carrying any other value."
_ACCEPTED_TYP = frozenset({"at+jwt", "application/at+jwt"})
# Only the algorithm credgate signs with. `none`, HS* (which would let a public key be used as an
# HMAC secret) and everything else are refused before any signature check.
_ALGORITHMS = (ALGORITHM,)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    jti: str
    expires_at: int


_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64url(data: bytes) -> bytes:
    """RFC 7515 §2 base64url without padding: the C encoder and one translate, where
    ``base64.urlsafe_b64encode`` adds two Python calls and a translate table look-up."""
    return b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


@dataclass(frozen=True, slots=True)
class _Signer:
    """What signing with one key needs, prepared once: its encoded header and raw key."""

    kid: str
    header_segment: bytes
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)


_signer: _Signer | None = None


def _signer_for(loaded: LoadedKey) -> _Signer:
    """The prepared signer of the active key; rebuilt only when the key changes (rotation)."""
    global _signer
    current = _signer
    if current is not None and current.kid == loaded.kid:
        return current
    private_key = loaded.key.private_key
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"signing key {loaded.kid} holds no private key")
    header = {"alg": ALGORITHM, "typ": TOKEN_TYPE, "kid": loaded.kid}
    segment = _b64url(json.dumps(header, separators=(",", ":")).encode())
    current = _signer = _Signer(loaded.kid, segment + b".", private_key)
    return current


def _es256(signing_input: bytes, private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """RFC 7518 §3.4: the ECDSA P-256 SHA-256 signature as R || S, 32 octets each."""
    return _der_to_raw(private_key.sign(signing_input, _ECDSA_SHA256))


def _der_to_raw(der: bytes) -> bytes:
    """R || S from the DER ``SEQUENCE { INTEGER r, INTEGER s }`` OpenSSL returns for P-256.

    Both integers are at most 33 octets (a leading zero keeps them positive), so every length
    is one octet: r's at [3], s's right after r. Slicing costs a tenth of
    ``decode_dss_signature`` and two ``int.to_bytes``.
    """
    end_r = 4 + der[3]
    r = der[4:end_r].lstrip(b"\0")
    s = der[end_r + 2 : end_r + 2 + der[end_r + 1]].lstrip(b"\0")
    return r.rjust(32, b"\0") + s.rjust(32, b"\0")


def _token_id() -> str:
    """A ``jti``: 128 bits from the OS CSPRNG, base64url (what ``secrets.token_urlsafe(16)``
    returns, for a third of its cost)."""
    return _b64url(os.urandom(16)).decode("ascii")


def issue_access_token(
    keys: KeySet,
    *,
    issuer: str,
    audience: str,
    client_id: str,
    scopes: Sequence[str],
    ttl: int,
    now: int | None = None,
) -> IssuedToken:
    iat = int(time.time()) if now is None else now
    jti = _token_id()
    # RFC 7515 §7.1 compact serialization, with the signature from ``cryptography``. joserfc's
    # ``jwt.encode`` re-validates the fixed header and looks up the algorithm and key on every
    # call, and json.dumps builds an encoder per call; together they cost a third of a token
    # request on this hot path. The header is fixed per key, so it is encoded once; the claims
    # have a fixed shape, and every string in them goes through the json module's own escaper.
    # Tests verify issued tokens with joserfc's ``jwt.decode`` (this module's verifier) and
    # with Authlib against the published JWKS, and decode arbitrary claim text back exactly.
    subject = _string(client_id)
    claims = (
        f'{{"iss":{_string(issuer)},"sub":{subject},"client_id":{subject},'
        f'"aud":{_string(audience)},"iat":{iat:d},"exp":{iat + ttl:d},'
        # The jti is base64url: nothing in it to escape.
        f'"jti":"{jti}","scope":{_string(" ".join(scopes))}}}'
    )
    signer = _signer_for(keys.active)
    signing_input = signer.header_segment + _b64url(claims.encode())
    signature = _b64url(_es256(signing_input, signer.private_key))
    return IssuedToken((signing_input + b"." + signature).decode("ascii"), jti, iat + ttl)


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    client_id: str
    jti: str
    scopes: frozenset[str]
    expires_at: int
    claims: dict[str, Any]


@dataclass(frozen=True, slots=True, eq=False)
class AccessTokenVerifier:
    """Checks a bearer token locally: signature by ``kid``, ``typ``, ``iss``, ``aud``, ``exp``.

    Whether the token was revoked, and whether its client is still active, are the caller's
    checks (they need this node's caches).
    """

    keys: Callable[[], KeySet] = field(repr=False)
    _: KW_ONLY
    issuer: str
    audience: str
    # A small leeway absorbs clock skew between nodes; it is documented as
    # CREDGATE_TOKEN_LEEWAY_SECONDS and capped at 300 s by the settings.
    leeway: int

    def _resolve(self, obj: Any) -> ECKey:
        headers = obj.headers()
        if headers.get("typ") not in _ACCEPTED_TYP:
            raise InvalidToken("the token is not an access token (typ must be at+jwt)")
        kid = headers.get("kid")
        key = self.keys().verification_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("the token was signed with an unknown key")
        return key

    def verify(self, token: str, *, now: int | None = None) -> VerifiedToken:
        try:
            decoded = jwt.decode(token, self._resolve, algorithms=_ALGORITHMS)
            registry = JWTClaimsRegistry(
                now=int(time.time()) if now is None else now,
                leeway=self.leeway,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience},
                exp={"essential": True},
                iat={"essential": True},
                sub={"essential": True},
                client_id={"essential": True},
                jti={"essential": True},
            )
            registry.validate(decoded.claims)
        except InvalidToken:
            raise
        except JoseError as exc:
            raise InvalidToken(_describe(exc)) from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidToken("the token is malformed") from exc
        claims = decoded.claims
        scope = claims.get("scope", "")
        if not isinstance(scope, str) or not isinstance(claims["client_id"], str):
            raise InvalidToken("the token's claims are malformed")
        return VerifiedToken(
            client_id=claims["client_id"],
            jti=str(claims["jti"]),
            scopes=frozenset(scope.split()),
            expires_at=int(claims["exp"]),
            claims=claims,
        )


def _describe(exc: JoseError) -> str:
    name = type(exc).__name__
    if name == "ExpiredTokenError":
        return "the token has expired"
    if name == "BadSignatureError":
        return "the token's signature does not verify"
    if name in ("InvalidClaimError", "MissingClaimError"):
        return f"the token's claims are not acceptable ({exc.description or exc.error})"
    if name == "UnsupportedAlgorithmError":
        return "the token's algorithm is not accepted"
    return "the token is malformed"
