"""From a request's credentials to a principal: an API key, or a bearer token."""

from __future__ import annotations

import time

from cryptography.hazmat.primitives import serialization

from dosi.errors import Unauthorized
from dosi.ngsild.model import now_iso
from dosi.security import apikeys
from dosi.security.principal import Principal
from dosi.security.tokens import LOCAL_KEY, TokenVerifier, new_signing_key
from dosi.settings import Settings
from dosi.store.base import EntityStore

TOUCH_EVERY = 60.0  # seconds between two writes of one key's last use


class Authenticator:
    def __init__(self, settings: Settings, store: EntityStore):
        self.settings = settings
        self.store = store
        self.tokens: TokenVerifier | None = None
        self._touched: dict[str, float] = {}

    async def open(self) -> None:
        """Load (or make, once) the local issuer's key; called at start-up, or by the first token."""
        public = None
        if self.settings.auth_local_issuer:
            pem = await self.store.secret(LOCAL_KEY, new_signing_key)
            public = serialization.load_pem_private_key(pem.encode(), password=None).public_key()
        self.tokens = TokenVerifier(self.settings, public)

    async def principal(self, authorization: str | None, api_key: str | None) -> Principal:
        if api_key is None and authorization and authorization.lower().startswith("apikey "):
            api_key = authorization[7:].strip()
        if api_key is not None:
            return await self._api_key(api_key)
        if authorization and authorization.lower().startswith("bearer "):
            if self.tokens is None:
                await self.open()
            assert self.tokens is not None
            return await self.tokens.verify(authorization[7:].strip())
        raise Unauthorized("send a bearer token or an API key (X-API-Key) / 토큰 또는 API 키가 필요합니다")

    async def _api_key(self, text: str) -> Principal:
        parts = apikeys.split(text)
        stored = await self.store.get_api_key(parts[0]) if parts else None
        if parts is None or stored is None or not apikeys.matches(parts[1], stored.hash):
            raise Unauthorized("unknown API key / 알 수 없는 API 키입니다")
        now = now_iso()
        if stored.revoked_at is not None or (stored.expires_at is not None and stored.expires_at <= now):
            raise Unauthorized("the API key is revoked or expired / 폐기되었거나 만료된 API 키입니다")
        if time.monotonic() - self._touched.get(stored.key_id, -TOUCH_EVERY) >= TOUCH_EVERY:
            self._touched[stored.key_id] = time.monotonic()
            await self.store.touch_api_key(stored.key_id, now)
        tenants = frozenset(stored.tenants) if stored.tenants is not None else None
        return Principal(stored.key_id, "apikey", frozenset(stored.roles), tenants, stored.name)
