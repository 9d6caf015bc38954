"""Bearer tokens: JWTs of the city's OpenID Connect issuer (e.g. Keycloak), or of the local development issuer.

Issuer, audience, expiry and algorithm (RS256/ES256 only) are pinned by settings. The issuer's keys come from
its JWKS, cached, and fetched again when a token names a key id not seen before (key rotation).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from dosi.errors import Unauthorized
from dosi.security.principal import ROLE_ACTIONS, Principal
from dosi.settings import Settings

LOCAL_ISSUER = "dosi-local"
LOCAL_KEY = "local-issuer-key"  # the name of the stored signing key
ALLOWED = frozenset({"RS256", "ES256"})
REFETCH_AFTER = 10.0  # an unknown key id fetches the JWKS again at most this often


def new_signing_key() -> str:
    """A fresh P-256 private key, as PEM, for the local development issuer."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode()


def local_token(
    signing_pem: str, subject: str, roles: list[str], tenants: list[str] | None, audience: str, minutes: float
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": LOCAL_ISSUER,
        "sub": subject,
        "aud": audience,
        "iat": now,
        "exp": now + int(minutes * 60),
        "roles": roles,
    }
    if tenants is not None:
        claims["tenants"] = tenants
    return jwt.encode(claims, signing_pem, algorithm="ES256")


class Jwks:
    """The issuer's signing keys by key id, cached for `ttl` seconds."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.keys: dict[str, Any] = {}
        self.fetched = 0.0

    async def key(self, kid: str | None) -> Any:
        stale = time.monotonic() - self.fetched > self.settings.oidc_jwks_ttl
        unknown = kid not in self.keys and time.monotonic() - self.fetched > REFETCH_AFTER
        if stale or unknown:
            await self._fetch()
        if kid is None and len(self.keys) == 1:
            return next(iter(self.keys.values()))
        if kid not in self.keys:
            raise Unauthorized("the token is signed with a key the issuer does not publish")
        return self.keys[kid]

    async def _fetch(self) -> None:
        # the issuer is configured by the operator, not named by a request: no SSRF check applies here
        async with httpx.AsyncClient(timeout=self.settings.context_fetch_timeout, follow_redirects=False) as client:
            url = self.settings.oidc_jwks_url
            if not url:
                found = await client.get(self.settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration")
                found.raise_for_status()
                url = str(found.json()["jwks_uri"])
            answer = await client.get(url)
            answer.raise_for_status()
        keys = {}
        for item in answer.json().get("keys", []):
            if item.get("use", "sig") == "sig" and item.get("alg", "RS256") in ALLOWED:
                keys[item.get("kid")] = jwt.PyJWK(item).key
        self.keys = keys
        self.fetched = time.monotonic()


class TokenVerifier:
    def __init__(self, settings: Settings, local_public_key: Any | None):
        self.settings = settings
        self.local_key = local_public_key
        self.jwks = Jwks(settings) if settings.oidc_issuer else None
        self.algorithms = [a.strip() for a in settings.oidc_algorithms.split(",") if a.strip() in ALLOWED]

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            raise Unauthorized("the bearer token is not a JWT") from None
        algorithm = header.get("alg")
        if issuer == LOCAL_ISSUER and self.local_key is not None:
            key, algorithms = self.local_key, ["ES256"]
        elif self.jwks is not None and issuer == self.settings.oidc_issuer:
            if algorithm not in self.algorithms:
                raise Unauthorized(f"tokens signed with {algorithm} are not accepted")
            try:
                key = await self.jwks.key(header.get("kid"))
            except httpx.HTTPError:
                raise Unauthorized("the token issuer's keys cannot be fetched") from None
            algorithms = self.algorithms
        else:
            raise Unauthorized("the token comes from an issuer this hub does not trust")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.settings.oidc_audience,
                issuer=issuer,
                leeway=30,
                options={"require": ["exp", "iss", "sub"]},
            )
        except jwt.PyJWTError as err:
            raise Unauthorized(f"the bearer token is not valid: {err}") from None
        return principal_of(claims, self.settings)


def principal_of(claims: dict[str, Any], settings: Settings) -> Principal:
    """Roles from the configured claim (a dotted path such as realm_access.roles), tenants from `tenants`."""
    value: Any = claims
    path = settings.oidc_roles_claim if claims.get("iss") != LOCAL_ISSUER else "roles"
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    roles = frozenset(r for r in (value if isinstance(value, list) else []) if r in ROLE_ACTIONS)
    tenants_claim = claims.get("tenants")
    tenants: frozenset[str] | None
    if isinstance(tenants_claim, list):
        tenants = frozenset(str(t) for t in tenants_claim)
    else:
        tenants = None if "admin" in roles else frozenset({""})  # without the claim: the default tenant only
    client = claims.get("azp")
    return Principal(str(claims["sub"]), "user", roles, tenants, str(client) if client else None)
