"""Bearer JWT verification: HS256 (embedded) and RS256/ES256 from a JWKS file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from twinops.errors import InvalidInput, Unauthorized
from twinops.security.tokens import (
    JwtConfig,
    TokenClaims,
    issue_hs256,
    load_jwks,
    looks_like_jwt,
    verify_jwt,
)

NOW = 1_750_000_000
SECRET = "embedded-secret-that-is-long-enough-0123456789"
ISSUER = "https://idp.example.com/realms/plant"
AUDIENCE = "twinops-api"
HS_CONFIG = JwtConfig(hs256_secret=SECRET)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def hand_signed_hs256(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    """An HS256 token built by hand, bypassing PyJWT's refusal to HMAC with a PEM key."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def claims(**overrides: Any) -> dict[str, Any]:
    """A complete, valid claim set for an OIDC token at NOW; None removes a claim."""
    base: dict[str, Any] = {
        "sub": "alice",
        "twinops_tenant": "acme",
        "twinops_role": "operator",
        "iat": NOW - 60,
        "exp": NOW + 600,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": "token-1",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def hs256(payload: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


def hs_claims(**overrides: Any) -> dict[str, Any]:
    return claims(**{"iss": None, "aud": None, **overrides})


def rejected(token: str, config: JwtConfig, now: int = NOW) -> str:
    """The Unauthorized detail verify_jwt gives, checked to leak nothing sensitive."""
    with pytest.raises(Unauthorized) as info:
        verify_jwt(token, config, now=now)
    detail = info.value.detail
    assert token not in detail
    assert SECRET not in detail
    assert "Traceback" not in detail
    assert len(detail) < 100
    return detail


# --- keys and JWKS ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rsa_key_2() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str | None) -> dict[str, Any]:
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    if kid is not None:
        jwk["kid"] = kid
    return dict(jwk)


def ec_jwk(key: ec.EllipticCurvePrivateKey, kid: str | None) -> dict[str, Any]:
    jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    if kid is not None:
        jwk["kid"] = kid
    return dict(jwk)


JwksWriter = Callable[..., JwtConfig]


@pytest.fixture
def oidc(tmp_path: Path) -> JwksWriter:
    """Write a JWKS of the given JWKs and return an RS/ES config that uses it."""

    def write(*jwks: dict[str, Any], **config: Any) -> JwtConfig:
        path = tmp_path / "jwks.json"
        path.write_text(json.dumps({"keys": list(jwks)}))
        return JwtConfig(issuer=ISSUER, audience=AUDIENCE, jwks_file=path, **config)

    return write


def rs256(key: rsa.RSAPrivateKey, payload: dict[str, Any], kid: str | None = "r1") -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid} if kid else None)


def es256(key: ec.EllipticCurvePrivateKey, payload: dict[str, Any], kid: str | None = "e1") -> str:
    return jwt.encode(payload, key, algorithm="ES256", headers={"kid": kid} if kid else None)


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- shape ---------------------------------------------------------------------------------


def test_looks_like_jwt_accepts_three_base64url_segments_only() -> None:
    assert looks_like_jwt(issue_hs256(HS_CONFIG, subject="a", tenant="t", role="r", now=NOW))
    assert looks_like_jwt("eyJhbGciOiJub25lIn0.e30.")  # unsigned: routed here, refused later
    assert not looks_like_jwt("tok_3f9a0c1b2d")  # an API key
    assert not looks_like_jwt("a.b")
    assert not looks_like_jwt("a.b.c.d")
    assert not looks_like_jwt("a+b.c/d.e=")
    assert not looks_like_jwt("a.b.c\n")
    assert not looks_like_jwt("")


# --- HS256 ---------------------------------------------------------------------------------


def test_hs256_token_issued_by_twinops_verifies_back_to_its_principal() -> None:
    token = issue_hs256(
        HS_CONFIG, subject="alice", tenant="acme", role="operator", ttl_seconds=900, now=NOW
    )
    result = verify_jwt(token, HS_CONFIG, now=NOW + 10)
    assert result == TokenClaims(
        subject="alice",
        tenant="acme",
        role="operator",
        expires_at=NOW + 900,
        token_id=result.token_id,
    )
    assert result.token_id  # every issued token carries a jti for the audit log


def test_hs256_round_trip_with_issuer_and_audience_configured() -> None:
    config = JwtConfig(hs256_secret=SECRET, issuer="twinops", audience="twinops-api")
    token = issue_hs256(config, subject="bob", tenant="t-1", role="viewer", now=NOW)
    assert verify_jwt(token, config, now=NOW).subject == "bob"
    assert rejected(token, JwtConfig(hs256_secret=SECRET, issuer="other"), NOW) == (
        "token issuer is not accepted"
    )


def test_expired_token_is_refused() -> None:
    token = issue_hs256(HS_CONFIG, subject="a", tenant="t", role="r", ttl_seconds=60, now=NOW)
    assert rejected(token, HS_CONFIG, now=NOW + 60 + 31) == "token expired"


def test_expiry_allows_the_configured_leeway() -> None:
    token = issue_hs256(HS_CONFIG, subject="a", tenant="t", role="r", ttl_seconds=60, now=NOW)
    assert verify_jwt(token, HS_CONFIG, now=NOW + 60 + 29).subject == "a"


def test_token_before_its_nbf_is_not_yet_valid() -> None:
    token = hs256(hs_claims(nbf=NOW + 300))
    assert rejected(token, HS_CONFIG) == "token is not yet valid"
    assert verify_jwt(token, HS_CONFIG, now=NOW + 300).tenant == "acme"


def test_token_issued_in_the_future_is_not_yet_valid() -> None:
    assert rejected(hs256(hs_claims(iat=NOW + 3600)), HS_CONFIG) == "token is not yet valid"


def test_token_signed_with_another_secret_is_refused() -> None:
    token = hs256(hs_claims(), secret="some-other-secret-that-is-long-enough-xyz")
    assert rejected(token, HS_CONFIG) == "token signature is not valid"


def test_tampered_payload_is_refused() -> None:
    header, _, signature = hs256(hs_claims()).split(".")
    forged = f"{header}.{segment(hs_claims(twinops_role='admin'))}.{signature}"
    assert rejected(forged, HS_CONFIG) == "token signature is not valid"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_unsigned_alg_none_token_is_refused(alg: str) -> None:
    for signature in ("", b64url(b"x")):
        token = f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(hs_claims())}.{signature}"
        assert rejected(token, HS_CONFIG) == "unsupported token algorithm"


@pytest.mark.parametrize("alg", ["HS384", "HS512", "RS512", "PS256", "ES384", "EdDSA", ""])
def test_algorithms_outside_the_allow_list_are_refused(alg: str) -> None:
    token = f"{segment({'alg': alg})}.{segment(hs_claims())}.{b64url(b'sig')}"
    assert rejected(token, HS_CONFIG) == "unsupported token algorithm"


def test_header_without_alg_or_with_non_string_alg_is_refused() -> None:
    for header in ({}, {"alg": ["HS256"]}, {"alg": None}, {"alg": 256}):
        token = f"{segment(header)}.{segment(hs_claims())}.{b64url(b'sig')}"
        assert rejected(token, HS_CONFIG) == "unsupported token algorithm"


def test_hs256_token_is_refused_when_no_secret_is_configured(oidc: JwksWriter) -> None:
    token = hs256(hs_claims())
    assert rejected(token, JwtConfig()) == "unsupported token algorithm"
    assert rejected(token, oidc()) == "unsupported token algorithm"


def test_missing_exp_is_refused() -> None:
    assert rejected(hs256(hs_claims(exp=None)), HS_CONFIG) == "token is missing claim 'exp'"


@pytest.mark.parametrize("exp", ["tomorrow", True, [NOW], {"t": NOW}])
def test_non_numeric_exp_is_refused(exp: Any) -> None:
    assert rejected(hs256(hs_claims(exp=exp)), HS_CONFIG) == "token claim 'exp' is not a number"


def test_fractional_exp_is_accepted_and_floored() -> None:
    assert verify_jwt(hs256(hs_claims(exp=NOW + 10.75)), HS_CONFIG, now=NOW).expires_at == (
        NOW + 10
    )


@pytest.mark.parametrize("claim", ["sub", "twinops_tenant", "twinops_role"])
def test_token_missing_a_principal_claim_is_refused(claim: str) -> None:
    token = hs256(hs_claims(**{claim: None}))
    assert rejected(token, HS_CONFIG) == f"token is missing claim '{claim}'"


def test_empty_subject_counts_as_missing() -> None:
    assert rejected(hs256(hs_claims(sub="")), HS_CONFIG) == "token is missing claim 'sub'"


@pytest.mark.parametrize("subject", [42, ["alice"], "line\nbreak", "x" * 256])
def test_subject_that_is_not_a_short_printable_string_is_refused(subject: Any) -> None:
    assert rejected(hs256(hs_claims(sub=subject)), HS_CONFIG) == "token claim 'sub' is not valid"


@pytest.mark.parametrize("role", [7, "", ["admin"]])
def test_role_that_is_not_a_non_empty_string_is_refused(role: Any) -> None:
    token = hs256(hs_claims(twinops_role=role))
    assert rejected(token, HS_CONFIG) == "token claim 'twinops_role' is not valid"


@pytest.mark.parametrize(
    "tenant", ["", "-acme", ".acme", "ac me", "acme/other", "a" * 65, "acmé", 12, ["acme"]]
)
def test_tenant_that_breaks_the_tenant_id_format_is_refused(tenant: Any) -> None:
    token = hs256(hs_claims(twinops_tenant=tenant))
    assert rejected(token, HS_CONFIG) == "token claim 'twinops_tenant' is not a valid tenant id"


@pytest.mark.parametrize("tenant", ["a", "acme", "Plant_7.north-1", "A" * 64])
def test_tenant_ids_in_the_allowed_format_are_accepted(tenant: str) -> None:
    assert verify_jwt(hs256(hs_claims(twinops_tenant=tenant)), HS_CONFIG, now=NOW).tenant == tenant


def test_custom_tenant_and_role_claim_names_are_honoured() -> None:
    config = JwtConfig(hs256_secret=SECRET, tenant_claim="org", role_claim="https://x/role")
    token = hs256(claims(iss=None, aud=None, org="plant-9", **{"https://x/role": "admin"}))
    result = verify_jwt(token, config, now=NOW)
    assert (result.tenant, result.role) == ("plant-9", "admin")
    assert rejected(hs256(hs_claims()), config) == "token is missing claim 'org'"


def test_token_lifetime_longer_than_the_maximum_is_refused() -> None:
    token = hs256(hs_claims(iat=NOW - 10, exp=NOW - 10 + 24 * 3600 + 1))
    assert rejected(token, HS_CONFIG) == "token lifetime is too long"
    short = JwtConfig(hs256_secret=SECRET, max_lifetime_seconds=300)
    assert rejected(hs256(hs_claims(iat=NOW, exp=NOW + 301)), short) == (
        "token lifetime is too long"
    )


def test_lifetime_is_not_checked_without_iat() -> None:
    token = hs256(hs_claims(iat=None, exp=NOW + 30 * 24 * 3600))
    assert verify_jwt(token, HS_CONFIG, now=NOW).subject == "alice"


def test_hs256_token_with_an_audience_is_refused_when_none_is_configured() -> None:
    # RFC 7519 4.1.3: a recipient not named in a present "aud" must reject the token.
    assert rejected(hs256(hs_claims(aud="someone-else")), HS_CONFIG) == (
        "token audience is not accepted"
    )


def test_non_string_jti_is_refused() -> None:
    assert rejected(hs256(hs_claims(jti=5)), HS_CONFIG) == "token claim 'jti' is not valid"


def test_jti_is_optional() -> None:
    assert verify_jwt(hs256(hs_claims(jti=None)), HS_CONFIG, now=NOW).token_id is None


def test_payload_that_is_not_a_json_object_is_malformed() -> None:
    header = segment({"alg": "HS256", "typ": "JWT"})
    for body in (b64url(b"[1,2]"), b64url(b"not json"), b64url(b"\xff\xfe")):
        signing_input = f"{header}.{body}"
        sig = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
        assert rejected(f"{signing_input}.{b64url(sig)}", HS_CONFIG) == "token is malformed"


def test_oversized_token_is_refused_without_decoding() -> None:
    token = hs256(hs_claims(pad="x" * 20_000))
    assert not looks_like_jwt(token)
    assert rejected(token, HS_CONFIG) == "token is malformed"


def test_issue_hs256_refuses_bad_arguments() -> None:
    with pytest.raises(InvalidInput, match="hs256_secret"):
        issue_hs256(JwtConfig(), subject="a", tenant="t", role="r")
    with pytest.raises(InvalidInput, match="hs256_secret"):
        issue_hs256(JwtConfig(hs256_secret="short"), subject="a", tenant="t", role="r")
    with pytest.raises(InvalidInput, match="tenant"):
        issue_hs256(HS_CONFIG, subject="a", tenant="bad tenant", role="r")
    with pytest.raises(InvalidInput, match="subject"):
        issue_hs256(HS_CONFIG, subject="", tenant="t", role="r")
    with pytest.raises(InvalidInput, match="role"):
        issue_hs256(HS_CONFIG, subject="a", tenant="t", role="")
    with pytest.raises(InvalidInput, match="ttl_seconds"):
        issue_hs256(HS_CONFIG, subject="a", tenant="t", role="r", ttl_seconds=2 * 24 * 3600)


def test_config_repr_hides_the_secret() -> None:
    assert SECRET not in repr(HS_CONFIG)
    assert SECRET not in str(HS_CONFIG)


# --- algorithm confusion -------------------------------------------------------------------


def test_hs256_token_signed_with_the_rsa_public_key_is_refused_by_an_rs256_config(
    oidc: JwksWriter, rsa_key: rsa.RSAPrivateKey
) -> None:
    config = oidc(rsa_jwk(rsa_key, "r1"))
    header = {"alg": "HS256", "typ": "JWT", "kid": "r1"}
    for secret in (public_pem(rsa_key), json.dumps(rsa_jwk(rsa_key, "r1")).encode()):
        forged = hand_signed_hs256(header, claims(), secret)
        assert rejected(forged, config) == "unsupported token algorithm"


def test_public_key_is_never_an_hmac_secret_even_when_hs256_is_enabled(
    oidc: JwksWriter, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    config = oidc(rsa_jwk(rsa_key, "r1"), ec_jwk(ec_key, "e1"), hs256_secret=SECRET)
    pems = [
        public_pem(rsa_key),
        ec_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    ]
    for pem in pems:
        for kid in ("r1", "e1", None):
            header = {"alg": "HS256", **({"kid": kid} if kid else {})}
            forged = hand_signed_hs256(header, claims(), pem)
            assert rejected(forged, config) == "token signature is not valid"


def test_rs256_token_cannot_select_an_ec_key_and_vice_versa(
    oidc: JwksWriter, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    config = oidc(rsa_jwk(rsa_key, "r1"), ec_jwk(ec_key, "e1"))
    assert rejected(rs256(rsa_key, claims(), kid="e1"), config) == "token signing key is unknown"
    assert rejected(es256(ec_key, claims(), kid="r1"), config) == "token signing key is unknown"


def test_symmetric_keys_in_the_jwks_are_ignored(oidc: JwksWriter) -> None:
    oct_key = {"kty": "oct", "kid": "k", "k": b64url(SECRET.encode()), "alg": "HS256"}
    forged = hand_signed_hs256({"alg": "HS256", "kid": "k"}, claims(), SECRET.encode())
    config = oidc(oct_key, {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"})
    with pytest.raises(InvalidInput, match="no RS256 or ES256"):
        load_jwks(config.jwks_file)  # type: ignore[arg-type]
    assert rejected(forged, config) == "unsupported token algorithm"


# --- RS256 / ES256 -------------------------------------------------------------------------


def test_rs256_token_verifies_against_the_jwks_file(
    oidc: JwksWriter, rsa_key: rsa.RSAPrivateKey
) -> None:
    config = oidc(rsa_jwk(rsa_key, "r1"))
    result = verify_jwt(rs256(rsa_key, claims()), config, now=NOW)
    assert result == TokenClaims("alice", "acme", "operator", NOW + 600, "token-1")


def test_es256_token_verifies_against_the_jwks_file(
    oidc: JwksWriter, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    config = oidc(ec_jwk(ec_key, "e1"))
    result = verify_jwt(es256(ec_key, claims(sub="svc-1")), config, now=NOW)
    assert (result.subject, result.tenant, result.role) == ("svc-1", "acme", "operator")


def test_audience_may_be_a_list_that_contains_ours(
    oidc: JwksWriter, rsa_key: rsa.RSAPrivateKey
) -> None:
    config = oidc(rsa_jwk(rsa_key, "r1"))
    token = rs256(rsa_key, claims(aud=["account", AUDIENCE]))
    assert verify_jwt(token, config, now=NOW).subject == "alice"


def test_kid_selects_the_matching_key(
    oidc: JwksWriter, rsa_key: rsa.RSAPrivateKey, rsa_key_2: rsa.RSAPrivateKey
) -> None:
    config = oidc(rsa_jwk(rsa_key, "r1"), rsa_jwk(rsa_key_2, "r2"))
    assert verify_jwt(rs256(rsa_key, claims(), kid="r1"), config, now=NOW).subject == "alice"
    assert verify_jwt(rs256(rsa_key_2, claims(), kid="r2"), config, now=NOW).subject == "alice"
    # Signed by r2 but claiming r1: the kid picks r1 and the signature does not match it.
    assert rejected(rs256(rsa_key_2, claims(), kid="r1"), config) == (
        "token signature is not valid"
    )


def test_unknown_kid_is_refused(oidc: JwksWriter, rsa_key: rsa.RSAPrivateKey) -> None:
    config = oidc(rsa_jwk(rsa_key, "r1"))
    assert rejected(rs256(rsa_key, claims(), kid="rotated-away"), config) == (
        "token signing key is unknown"
    )


def test_token_without_kid_uses_the_only_key_of_its_type(
    oidc: JwksWriter, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    config = oidc(rsa_jwk(rsa_key, None), ec_jwk(ec_key, "e1"))
    assert verify_jwt(rs256(rsa_key, claims(), kid=None), config, now=NOW).subject == "alice"
    assert verify_jwt(es256(ec_key, claims(), kid=None), config, now=NOW).subject == "alice"


def test_token_without_kid_is_refused_when_several_keys_could_match(
    oidc: JwksWriter, rsa_key: rsa.RSAPrivateKey, rsa_key_2: rsa.RSAPrivateKey
) -> None:
    config = oidc(rsa_jwk(rsa_key, "r1"), rsa_jwk(rsa_key_2, "r2"))
    assert rejected(rs256(rsa_key, claims(), kid=None), config) == (
        "token signing key is ambiguous"
    )


def test_wrong_issuer_is_refused(oidc: JwksWriter, rsa_key: rsa.RSAPrivateKey) -> None:
    config = oidc(rsa_jwk(rsa_key, "r1"))
    assert rejected(rs256(rsa_key, claims(iss="https://evil.example.com")), config) == (
        "token issuer is not accepted"
    )
    assert rejected(rs256(rsa_key, claims(iss=None)), config) == "token is missing claim 'iss'"


def test_wrong_audience_is_refused(oidc: JwksWriter, ec_key: ec.EllipticCurvePrivateKey) -> None:
    config = oidc(ec_jwk(ec_key, "e1"))
    for aud in ("other-api", ["other-api", "account"], [7], {"aud": AUDIENCE}):
        assert rejected(es256(ec_key, claims(aud=aud)), config) == (
            "token audience is not accepted"
        )
    assert rejected(es256(ec_key, claims(aud=None)), config) == "token is missing claim 'aud'"


def test_rs256_token_without_exp_is_refused(oidc: JwksWriter, rsa_key: rsa.RSAPrivateKey) -> None:
    config = oidc(rsa_jwk(rsa_key, "r1"))
    assert rejected(rs256(rsa_key, claims(exp=None)), config) == "token is missing claim 'exp'"


def test_expired_rs256_token_is_refused(oidc: JwksWriter, rsa_key: rsa.RSAPrivateKey) -> None:
    config = oidc(rsa_jwk(rsa_key, "r1"))
    assert rejected(rs256(rsa_key, claims()), config, now=NOW + 3600) == "token expired"


def test_rs256_and_es256_are_refused_without_a_complete_oidc_configuration(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [rsa_jwk(rsa_key, "r1")]}))
    token = rs256(rsa_key, claims())
    for config in (
        HS_CONFIG,
        JwtConfig(jwks_file=path, audience=AUDIENCE),
        JwtConfig(jwks_file=path, issuer=ISSUER),
        JwtConfig(issuer=ISSUER, audience=AUDIENCE),
    ):
        assert rejected(token, config) == "unsupported token algorithm"


def test_es256_token_signed_by_another_key_is_refused(
    oidc: JwksWriter, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    config = oidc(ec_jwk(ec_key, "e1"))
    impostor = ec.generate_private_key(ec.SECP256R1())
    assert rejected(es256(impostor, claims(), kid="e1"), config) == "token signature is not valid"


# --- JWKS file -----------------------------------------------------------------------------


def test_jwks_is_cached_until_the_file_changes(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, rsa_key_2: rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [rsa_jwk(rsa_key, "r1")]}))
    first = load_jwks(path)
    assert load_jwks(path) is first
    path.write_text(json.dumps({"keys": [rsa_jwk(rsa_key, "r1"), rsa_jwk(rsa_key_2, "r2")]}))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = load_jwks(path)
    assert second is not first
    assert [key.kid for key in second.keys] == ["r1", "r2"]


def test_key_rotation_in_the_jwks_file_is_picked_up(
    oidc: JwksWriter, rsa_key: rsa.RSAPrivateKey, rsa_key_2: rsa.RSAPrivateKey
) -> None:
    config = oidc(rsa_jwk(rsa_key, "r1"))
    token = rs256(rsa_key_2, claims(), kid="r2")
    assert rejected(token, config) == "token signing key is unknown"
    assert config.jwks_file is not None
    config.jwks_file.write_text(json.dumps({"keys": [rsa_jwk(rsa_key_2, "r2")]}))
    stat = config.jwks_file.stat()
    os.utime(config.jwks_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert verify_jwt(token, config, now=NOW).subject == "alice"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot be read"),
        ("{not json", "is not valid JSON"),
        ("[]", 'non-empty "keys" array'),
        ('{"keys": []}', 'non-empty "keys" array'),
        ('{"keys": [1]}', "key 0 is not a JSON object"),
        ('{"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB"}]}', "key 0 (RSA) is not a valid"),
        ('{"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}', "key 0 (EC)"),
        ('{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA"}]}', "no RS256 or ES256"),
    ],
)
def test_bad_jwks_file_is_a_clear_configuration_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "jwks.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InvalidInput) as info:
        load_jwks(path)
    assert info.value.violations[0].field == "jwks_file"
    assert str(path) in info.value.detail
    assert message in info.value.detail


def test_jwks_with_private_key_material_is_refused(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "jwks.json"
    private = RSAAlgorithm.to_jwk(rsa_key, as_dict=True)
    path.write_text(json.dumps({"keys": [private]}))
    with pytest.raises(InvalidInput, match="private key material") as info:
        load_jwks(path)
    assert str(private["d"]) not in info.value.detail


def test_jwks_with_a_short_rsa_key_is_refused(tmp_path: Path) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [rsa_jwk(weak, "w")]}))
    with pytest.raises(InvalidInput, match="shorter than 2048 bits"):
        load_jwks(path)


def test_broken_jwks_file_makes_asymmetric_tokens_unauthorized_not_a_crash(
    oidc: JwksWriter, rsa_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    config = oidc(rsa_jwk(rsa_key, "r1"))
    assert config.jwks_file is not None
    config.jwks_file.write_text("{broken")
    assert rejected(rs256(rsa_key, claims()), config) == "token signing keys are not available"
    assert "is not valid JSON" in caplog.text  # the operator is told why


# --- robustness ----------------------------------------------------------------------------

_B64 = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=80
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
_HEADERS = st.fixed_dictionaries(
    {"alg": st.sampled_from(["HS256", "RS256", "ES256", "none", "HS512"]) | _JSON},
    optional={"kid": _JSON, "crit": _JSON, "b64": _JSON, "typ": _JSON},
)
_PAYLOADS = (
    st.dictionaries(
        st.sampled_from(
            ["sub", "exp", "nbf", "iat", "iss", "aud", "jti", "twinops_tenant", "twinops_role"]
        ),
        _JSON,
    )
    | _JSON
)


def _structured_token(header: Any, payload: Any, signature: str) -> str:
    def encode(obj: Any) -> str:
        return b64url(json.dumps(obj, allow_nan=True).encode())

    return f"{encode(header)}.{encode(payload)}.{signature}"


@settings(max_examples=300, deadline=None)
@given(token=st.text(max_size=300) | st.builds(lambda *s: ".".join(s), _B64, _B64, _B64))
def test_arbitrary_text_only_ever_raises_unauthorized(token: str) -> None:
    with pytest.raises(Unauthorized):
        verify_jwt(token, HS_CONFIG, now=NOW)


@settings(max_examples=300, deadline=None)
@given(header=_HEADERS, payload=_PAYLOADS, signature=_B64)
def test_arbitrary_headers_and_payloads_only_ever_raise_unauthorized(
    tmp_path_factory: pytest.TempPathFactory, header: Any, payload: Any, signature: str
) -> None:
    # Unsigned garbage must be refused; the JWKS config exercises the RS/ES key lookup too.
    path = tmp_path_factory.getbasetemp() / "fuzz-jwks.json"
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        path.write_text(json.dumps({"keys": [ec_jwk(key, "e1")]}))
    config = JwtConfig(hs256_secret=SECRET, issuer=ISSUER, audience=AUDIENCE, jwks_file=path)
    with pytest.raises(Unauthorized):
        verify_jwt(_structured_token(header, payload, signature), config, now=NOW)


@settings(max_examples=200, deadline=None)
@given(payload=_PAYLOADS)
def test_correctly_signed_arbitrary_payloads_verify_or_raise_unauthorized(payload: Any) -> None:
    header = {"alg": "HS256", "typ": "JWT"}
    token = _structured_token(header, payload, "")[:-1]  # drop the trailing dot
    signature = hmac.new(SECRET.encode(), token.encode(), hashlib.sha256).digest()
    try:
        result = verify_jwt(f"{token}.{b64url(signature)}", HS_CONFIG, now=NOW)
    except Unauthorized:
        return
    assert isinstance(result, TokenClaims)
