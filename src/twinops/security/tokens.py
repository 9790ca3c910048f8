"""Bearer JWTs: HS256 for the embedded mode, RS256/ES256 from an OIDC provider's JWKS file.

Tokens map onto a twinops principal (subject, tenant, role). Verification never touches
the network: RS256/ES256 keys come only from a local JWKS file, reloaded when it changes.
Every verification failure is an ``Unauthorized`` whose detail is short and safe to show:
it never contains the token, a key or a secret.
"""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.types import Options

from twinops.errors import InvalidInput, Unauthorized

log = logging.getLogger("twinops.security")

AsymmetricAlgorithm: TypeAlias = Literal["RS256", "ES256"]
PublicKey: TypeAlias = RSAPublicKey | EllipticCurvePublicKey

# The whole allow-list. Anything else ("none", HS512, PS256, EdDSA, ...) is refused before
# any key is looked at, so the token cannot choose how its own signature is checked.
ALLOWED_ALGORITHMS: Final = frozenset({"HS256", "RS256", "ES256"})

TENANT_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", re.ASCII)
_JWT_SHAPE: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*", re.ASCII)

# Bounds the work an unauthenticated caller can make us do (base64, JSON, signature).
MAX_TOKEN_LENGTH: Final = 16 * 1024
_MAX_JWKS_BYTES: Final = 1024 * 1024
_MAX_SUBJECT_LENGTH: Final = 255
_MAX_ROLE_LENGTH: Final = 64
_MIN_RSA_BITS: Final = 2048
_MIN_HS256_SECRET_BYTES: Final = 32  # RFC 7518 3.2: at least the hash output size

# Claim checks are ours (so the clock is injectable); PyJWT only verifies the signature.
_SIGNATURE_ONLY: Final[Options] = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}


@dataclass(frozen=True)
class JwtConfig:
    """How bearer JWTs are verified (and, in the embedded mode, issued)."""

    hs256_secret: str | None = None  # embedded mode
    issuer: str | None = None  # required for RS256/ES256 tokens
    audience: str | None = None  # required for RS256/ES256 tokens
    jwks_file: Path | None = None  # JWKS JSON for RS256/ES256
    tenant_claim: str = "twinops_tenant"
    role_claim: str = "twinops_role"
    leeway_seconds: int = 30
    max_lifetime_seconds: int = 24 * 3600  # refuse tokens whose exp-iat exceeds this

    def __repr__(self) -> str:
        # The secret must not end up in logs or tracebacks through a stray repr().
        secret = "None" if self.hs256_secret is None else "'***'"
        return (
            f"JwtConfig(hs256_secret={secret}, issuer={self.issuer!r}, "
            f"audience={self.audience!r}, jwks_file={self.jwks_file!r}, "
            f"tenant_claim={self.tenant_claim!r}, role_claim={self.role_claim!r}, "
            f"leeway_seconds={self.leeway_seconds!r}, "
            f"max_lifetime_seconds={self.max_lifetime_seconds!r})"
        )

    @property
    def accepts_asymmetric(self) -> bool:
        """True when RS256/ES256 tokens can be verified (JWKS, issuer and audience all set)."""
        return bool(self.jwks_file and self.issuer and self.audience)


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says about its bearer."""

    subject: str
    tenant: str
    role: str  # raw string; the caller maps it to a Role enum
    expires_at: int  # epoch seconds
    token_id: str | None  # jti if present


@dataclass(frozen=True)
class SigningKey:
    """One public verification key from a JWKS file."""

    kid: str | None
    algorithm: AsymmetricAlgorithm
    public_key: PublicKey = field(repr=False)


@dataclass(frozen=True)
class JsonWebKeySet:
    """The usable RS256/ES256 public keys of a JWKS file."""

    path: Path
    keys: tuple[SigningKey, ...]

    def candidates(self, algorithm: AsymmetricAlgorithm, kid: str | None) -> list[SigningKey]:
        """Keys that may verify a token with this ``alg`` and ``kid`` header."""
        typed = [key for key in self.keys if key.algorithm == algorithm]
        if kid is None:
            return typed
        return [key for key in typed if key.kid == kid]


def looks_like_jwt(token: str) -> bool:
    """True when ``token`` has the compact JWS shape: three base64url segments."""
    # An empty signature still counts, so an unsigned ("alg": "none") token is routed to
    # JWT verification and refused there rather than being mistaken for an API key.
    return len(token) <= MAX_TOKEN_LENGTH and _JWT_SHAPE.fullmatch(token) is not None


def verify_jwt(token: str, config: JwtConfig, *, now: float | None = None) -> TokenClaims:
    """Verify a bearer JWT and return its claims; any failure raises ``Unauthorized``."""
    if not isinstance(token, str) or not looks_like_jwt(token):
        raise Unauthorized("token is malformed")
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        raise Unauthorized("token is malformed") from None

    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in ALLOWED_ALGORITHMS:
        raise Unauthorized("unsupported token algorithm")

    key: bytes | PublicKey
    if algorithm == "HS256":
        # Only ever the configured secret: never a JWKS entry, never a public key, so an
        # RS/ES public key cannot be replayed as an HMAC secret (algorithm confusion).
        if not config.hs256_secret:
            raise Unauthorized("unsupported token algorithm")
        key = config.hs256_secret.encode("utf-8")
    else:
        if not config.accepts_asymmetric:
            raise Unauthorized("unsupported token algorithm")
        key = _asymmetric_key(config, _as_asymmetric(algorithm), header.get("kid"))

    payload = _verified_payload(token, key, algorithm)
    return _check_claims(payload, config, asymmetric=algorithm != "HS256", now=now)


def issue_hs256(
    config: JwtConfig,
    *,
    subject: str,
    tenant: str,
    role: str,
    ttl_seconds: int = 3600,
    now: int | None = None,
) -> str:
    """Sign an HS256 token for the embedded mode; bad arguments raise ``InvalidInput``."""
    secret = config.hs256_secret
    if not secret:
        raise InvalidInput.single("hs256_secret", "required", "no HS256 secret is configured")
    if len(secret.encode("utf-8")) < _MIN_HS256_SECRET_BYTES:
        raise InvalidInput.single(
            "hs256_secret", "min-length", f"must be at least {_MIN_HS256_SECRET_BYTES} bytes"
        )
    _require_valid_subject(subject)
    if not TENANT_PATTERN.fullmatch(tenant):
        raise InvalidInput.single("tenant", "pattern", "is not a valid tenant id", tenant)
    if not _is_valid_role(role):
        raise InvalidInput.single("role", "format", "must be a non-empty string", role)
    if not 0 < ttl_seconds <= config.max_lifetime_seconds:
        raise InvalidInput.single(
            "ttl_seconds",
            "range",
            f"must be between 1 and {config.max_lifetime_seconds}",
            ttl_seconds,
        )

    issued_at = int(time.time()) if now is None else int(now)
    payload: dict[str, Any] = {
        "sub": subject,
        config.tenant_claim: tenant,
        config.role_claim: role,
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
        # A unique id lets the audit log name the token and a deny-list revoke it.
        "jti": secrets.token_urlsafe(16),
    }
    if config.issuer:
        payload["iss"] = config.issuer
    if config.audience:
        payload["aud"] = config.audience
    return jwt.encode(payload, secret.encode("utf-8"), algorithm="HS256", headers={"typ": "JWT"})


# --- JWKS ---------------------------------------------------------------------------------

_jwks_lock = threading.Lock()
_jwks_cache: dict[Path, tuple[tuple[int, int, int], JsonWebKeySet]] = {}


def load_jwks(path: Path) -> JsonWebKeySet:
    """Load the RS256/ES256 public keys of a JWKS file, cached until the file changes."""
    path = Path(path)
    try:
        info = path.stat()
    except OSError as exc:
        raise _jwks_error(path, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    # mtime alone can miss a rewrite within the clock's resolution; size and inode help.
    stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
    with _jwks_lock:
        cached = _jwks_cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    jwks = _parse_jwks_file(path)
    with _jwks_lock:
        _jwks_cache[path] = (stamp, jwks)
    return jwks


def _parse_jwks_file(path: Path) -> JsonWebKeySet:
    """Read and validate a JWKS file (no caching)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_JWKS_BYTES + 1)
    except OSError as exc:
        raise _jwks_error(path, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    if len(raw) > _MAX_JWKS_BYTES:
        raise _jwks_error(path, f"is larger than {_MAX_JWKS_BYTES} bytes")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise _jwks_error(path, "is not valid JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise _jwks_error(path, 'must be a JSON object with a non-empty "keys" array')

    keys: list[SigningKey] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise _jwks_error(path, f"key {index} is not a JSON object")
        key = _parse_jwk(path, index, entry)
        if key is not None:
            keys.append(key)
    if not keys:
        raise _jwks_error(path, "holds no RS256 or ES256 signature keys")
    return JsonWebKeySet(path=path, keys=tuple(keys))


def _parse_jwk(path: Path, index: int, entry: Mapping[str, Any]) -> SigningKey | None:
    """One JWK as a signing key, None when it is not for RS256/ES256 signatures."""
    kty, alg, use, kid = entry.get("kty"), entry.get("alg"), entry.get("use"), entry.get("kid")
    # Providers publish encryption keys and other algorithms next to their signing keys;
    # those are skipped, not errors. Symmetric ("oct") keys are always skipped: a JWKS key
    # must never become an HMAC secret.
    if use not in (None, "sig"):
        return None
    algorithm: AsymmetricAlgorithm
    if kty == "RSA" and alg in (None, "RS256"):
        algorithm = "RS256"
    elif kty == "EC" and entry.get("crv") == "P-256" and alg in (None, "ES256"):
        algorithm = "ES256"
    else:
        return None
    if kid is not None and not isinstance(kid, str):
        raise _jwks_error(path, f"key {index} has a non-string kid")
    if "d" in entry:
        # A private key in a file meant to be public is almost certainly the wrong file.
        raise _jwks_error(path, f"key {index} holds private key material")
    try:
        public_key = (
            RSAAlgorithm.from_jwk(dict(entry))
            if algorithm == "RS256"
            else ECAlgorithm.from_jwk(dict(entry))
        )
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, AttributeError):
        raise _jwks_error(path, f"key {index} ({kty}) is not a valid public key") from None
    if isinstance(public_key, RSAPublicKey):
        if public_key.key_size < _MIN_RSA_BITS:
            raise _jwks_error(path, f"key {index} is shorter than {_MIN_RSA_BITS} bits")
    elif not (
        isinstance(public_key, EllipticCurvePublicKey) and isinstance(public_key.curve, SECP256R1)
    ):
        raise _jwks_error(path, f"key {index} is not a public {kty} key")
    return SigningKey(kid=kid, algorithm=algorithm, public_key=public_key)


def _jwks_error(path: Path, message: str) -> InvalidInput:
    """The configuration error for a bad JWKS file (names the file, never key material)."""
    return InvalidInput.single("jwks_file", "jwks", f"JWKS file {path} {message}")


# --- verification helpers --------------------------------------------------------------


def _as_asymmetric(algorithm: str) -> AsymmetricAlgorithm:
    """Narrow an allow-listed algorithm name to the asymmetric literal type."""
    return "RS256" if algorithm == "RS256" else "ES256"


def _asymmetric_key(config: JwtConfig, algorithm: AsymmetricAlgorithm, kid: Any) -> PublicKey:
    """The one JWKS key that may verify this token, chosen by kid and key type."""
    assert config.jwks_file is not None  # guaranteed by accepts_asymmetric
    try:
        jwks = load_jwks(config.jwks_file)
    except InvalidInput as exc:
        # The caller cannot fix this; the operator must see why every token is refused.
        log.error("cannot verify %s tokens: %s", algorithm, exc.detail)
        raise Unauthorized("token signing keys are not available") from None
    if kid is not None and not isinstance(kid, str):
        raise Unauthorized("token is malformed")
    # Without a kid, only an unambiguous JWKS (one key of the right type) is acceptable.
    candidates = jwks.candidates(algorithm, kid)
    if len(candidates) != 1:
        detail = "token signing key is ambiguous" if candidates else "token signing key is unknown"
        raise Unauthorized(detail)
    return candidates[0].public_key


def _verified_payload(token: str, key: bytes | PublicKey, algorithm: str) -> dict[str, Any]:
    """The payload of ``token`` once its signature checks out under ``key``."""
    try:
        # algorithms=[algorithm] pins the check to the algorithm the key was chosen for.
        payload = jwt.decode(token, key, algorithms=[algorithm], options=_SIGNATURE_ONLY)
    except jwt.InvalidSignatureError:
        raise Unauthorized("token signature is not valid") from None
    except jwt.InvalidAlgorithmError:
        raise Unauthorized("unsupported token algorithm") from None
    except jwt.InvalidKeyError:
        # e.g. an HS256 secret that looks like a PEM key: refuse rather than use it.
        raise Unauthorized("token signature is not valid") from None
    except (jwt.DecodeError, ValueError, TypeError, RecursionError):
        raise Unauthorized("token is malformed") from None
    except jwt.PyJWTError:
        raise Unauthorized("token is not valid") from None
    if not isinstance(payload, dict):
        raise Unauthorized("token is malformed")
    return payload


def _check_claims(
    payload: dict[str, Any], config: JwtConfig, *, asymmetric: bool, now: float | None
) -> TokenClaims:
    """Check the time, issuer, audience and principal claims of a verified payload."""
    clock = time.time() if now is None else float(now)
    leeway = config.leeway_seconds

    expires = _numeric_date(payload, "exp", required=True)
    assert expires is not None
    if expires <= clock - leeway:
        raise Unauthorized("token expired")
    not_before = _numeric_date(payload, "nbf", required=False)
    if not_before is not None and not_before > clock + leeway:
        raise Unauthorized("token is not yet valid")
    issued_at = _numeric_date(payload, "iat", required=False)
    if issued_at is not None:
        if issued_at > clock + leeway:
            raise Unauthorized("token is not yet valid")
        if expires - issued_at > config.max_lifetime_seconds:
            raise Unauthorized("token lifetime is too long")

    if asymmetric or config.issuer:
        _check_issuer(payload, config.issuer)
    _check_audience(payload, config.audience)

    subject = payload.get("sub")
    if subject is None or subject == "":
        raise Unauthorized("token is missing claim 'sub'")
    if not _is_valid_subject(subject):
        raise Unauthorized("token claim 'sub' is not valid")

    tenant = payload.get(config.tenant_claim)
    if tenant is None:
        raise Unauthorized(f"token is missing claim {config.tenant_claim!r}")
    if not isinstance(tenant, str) or not TENANT_PATTERN.fullmatch(tenant):
        raise Unauthorized(f"token claim {config.tenant_claim!r} is not a valid tenant id")

    role = payload.get(config.role_claim)
    if role is None:
        raise Unauthorized(f"token is missing claim {config.role_claim!r}")
    if not _is_valid_role(role):
        raise Unauthorized(f"token claim {config.role_claim!r} is not valid")

    token_id = payload.get("jti")
    if token_id is not None and (not isinstance(token_id, str) or not token_id):
        raise Unauthorized("token claim 'jti' is not valid")

    return TokenClaims(
        subject=subject,
        tenant=tenant,
        role=role,
        expires_at=math.floor(expires),
        token_id=token_id,
    )


def _numeric_date(payload: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    """A NumericDate claim (RFC 7519: seconds, possibly fractional), or None if absent."""
    value = payload.get(name)
    if value is None:
        if required:
            raise Unauthorized(f"token is missing claim {name!r}")
        return None
    # bool is an int in Python, and inf/nan would defeat every comparison below.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unauthorized(f"token claim {name!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise Unauthorized(f"token claim {name!r} is not a number")
    return float(value) if isinstance(value, float) else _clamp(value)


def _clamp(value: int) -> float:
    """An int claim as a float, clamped so absurd values compare instead of overflowing."""
    return float(max(min(value, 2**62), -(2**62)))


def _check_issuer(payload: Mapping[str, Any], issuer: str | None) -> None:
    """Require ``iss`` to equal the configured issuer."""
    token_issuer = payload.get("iss")
    if token_issuer is None:
        raise Unauthorized("token is missing claim 'iss'")
    if not isinstance(token_issuer, str) or token_issuer != issuer:
        raise Unauthorized("token issuer is not accepted")


def _check_audience(payload: Mapping[str, Any], audience: str | None) -> None:
    """Require ``aud`` to contain the configured audience (RFC 7519 4.1.3)."""
    token_audience = payload.get("aud")
    if audience is None:
        # RFC 7519: a recipient that is not named in a present "aud" must reject the token;
        # with no audience configured we are named by none.
        if token_audience not in (None, "", []):
            raise Unauthorized("token audience is not accepted")
        return
    if token_audience is None:
        raise Unauthorized("token is missing claim 'aud'")
    audiences = [token_audience] if isinstance(token_audience, str) else token_audience
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise Unauthorized("token audience is not accepted")
    if audience not in audiences:
        raise Unauthorized("token audience is not accepted")


def _is_valid_subject(subject: Any) -> bool:
    """A non-empty, bounded string without control characters (it reaches the audit log)."""
    return (
        isinstance(subject, str)
        and 0 < len(subject) <= _MAX_SUBJECT_LENGTH
        and subject.isprintable()
    )


def _require_valid_subject(subject: str) -> None:
    """Raise ``InvalidInput`` for a subject that verification would later refuse."""
    if not _is_valid_subject(subject):
        raise InvalidInput.single(
            "subject",
            "format",
            f"must be 1-{_MAX_SUBJECT_LENGTH} printable characters",
            subject,
        )


def _is_valid_role(role: Any) -> bool:
    """A non-empty, short, printable string; mapping it to a Role is the caller's job."""
    return isinstance(role, str) and 0 < len(role) <= _MAX_ROLE_LENGTH and role.isprintable()


__all__ = [
    "ALLOWED_ALGORITHMS",
    "MAX_TOKEN_LENGTH",
    "TENANT_PATTERN",
    "JsonWebKeySet",
    "JwtConfig",
    "SigningKey",
    "TokenClaims",
    "issue_hs256",
    "load_jwks",
    "looks_like_jwt",
    "verify_jwt",
]
