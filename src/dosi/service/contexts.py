"""@context resolution for requests, and the /jsonldContexts resource.

Core contexts come from the package. Remote contexts are fetched once (guarded, short
timeout, size-limited), kept in memory and recorded as "Cached" in the store. Active
contexts are memoised per @context value, so a request with a known context costs
one dictionary lookup.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import orjson

from dosi.errors import BadRequestData, InvalidRequest, LdContextNotAvailable, ResourceNotFound
from dosi.ngsild import context as ld
from dosi.ngsild.model import is_uri, now_iso
from dosi.outbound import OutboundGuard
from dosi.settings import Settings
from dosi.store.base import EntityStore, StoredContext

HOSTED_PREFIX = "/ngsi-ld/v1/jsonldContexts/"
MODELS_PREFIX = "/dosi/v1/models/"  # a data model's @context: /dosi/v1/models/{type}/context


def _core_documents() -> dict[str, Any]:
    folder = resources.files("dosi.data.contexts")
    docs: dict[str, Any] = {}
    for url in ld.CORE_CONTEXT_URLS:
        name = url.rsplit("/", 1)[1]
        if name == "ngsi-ld-core-context.jsonld":
            name = "ngsi-ld-core-context-v1.8.jsonld"
        docs[url] = orjson.loads(folder.joinpath(name).read_text())
    return docs


class ContextService:
    def __init__(self, settings: Settings, store: EntityStore, guard: OutboundGuard):
        self.settings = settings
        self.store = store
        self.guard = guard
        self.core_docs = _core_documents()
        self._documents: OrderedDict[str, Any] = OrderedDict()
        self._active: OrderedDict[bytes, ld.ActiveContext] = OrderedDict()
        self.base_url = ""  # set by the app: http://host:port, for hosted context URLs
        self.started_at = now_iso()
        self.model_context: Callable[[str], dict[str, Any] | None] = lambda type_name: None  # set by the hub

    def forget(self) -> None:
        """Drops the memoised active contexts (a data model's @context changed)."""
        self._active.clear()

    # -- resolution ------------------------------------------------------
    async def resolve(self, ctx: Any) -> ld.ActiveContext:
        """The active context for a request's @context (None: core context only)."""
        if ctx is None:
            return ld.core_active()
        key = orjson.dumps(ctx)
        active = self._active.get(key)
        if active is not None:
            self._active.move_to_end(key)
            return active
        documents: dict[str, Any] = {}
        for _ in range(32):
            try:
                active = ld.build(ctx, documents)
                break
            except ld.MissingDocument as missing:
                documents[missing.url] = await self.document(missing.url)
            except ld.ContextError as err:
                raise BadRequestData(f"invalid @context: {err}") from None
        else:
            raise BadRequestData("@context imports too many documents")
        self._active[key] = active
        if len(self._active) > self.settings.context_cache_size:
            self._active.popitem(last=False)
        return active

    async def document(self, url: str) -> Any:
        """A remote context document, from memory, the store, or the network."""
        if url in self.core_docs:
            return self.core_docs[url]
        if url in self._documents:
            self._documents.move_to_end(url)
            return self._documents[url]
        if not is_uri(url):
            raise BadRequestData(f"@context reference {url!r} is not a URI")
        path = urlsplit(url).path
        if path.startswith(MODELS_PREFIX) and path.endswith("/context"):
            # a data model's context, served by this hub whatever host name the client reached us by
            local = self.model_context(unquote(path[len(MODELS_PREFIX) : -len("/context")]))
            if local is not None:
                return local
        stored = await self.store.get_context(_id_for(url))
        if stored is None and path.startswith(HOSTED_PREFIX):
            # a context this hub hosts, whatever host name the client reached us by
            stored = await self.store.get_context(unquote(path[len(HOSTED_PREFIX) :]))
        if stored is not None:
            body = (
                {"@context": stored.body}
                if not isinstance(stored.body, dict) or "@context" not in stored.body
                else stored.body
            )
        else:
            body = await self._fetch(url)
            await self.store.put_context(StoredContext(_id_for(url), url, "Cached", body, now_iso()))
        self._documents[url] = body
        if len(self._documents) > self.settings.context_cache_size:
            self._documents.popitem(last=False)
        return body

    async def _fetch(self, url: str) -> Any:
        if urlsplit(url).scheme.lower() not in ("http", "https"):  # nothing to retrieve: the client's mistake
            raise BadRequestData(f"@context reference {url!r} is neither a known context nor an http(s) URL")
        try:
            await self.guard.check(url)
        except BadRequestData as err:
            raise LdContextNotAvailable(f"cannot load @context {url}: {err.detail}") from None
        limit = self.settings.context_max_bytes
        try:
            timeout = self.settings.context_fetch_timeout
            accept = {"Accept": "application/ld+json, application/json"}
            async with (
                httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client,
                client.stream("GET", url, headers=accept) as response,
            ):
                if response.status_code != 200:
                    raise LdContextNotAvailable(f"@context {url} answered HTTP {response.status_code}")
                chunks = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise LdContextNotAvailable(f"@context {url} is larger than {limit} bytes")
                    chunks.append(chunk)
        except (httpx.HTTPError, ValueError) as err:
            raise LdContextNotAvailable(f"cannot load @context {url}: {type(err).__name__}") from None
        try:
            body = orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError:
            raise LdContextNotAvailable(f"@context {url} is not JSON") from None
        if not isinstance(body, dict) or "@context" not in body:
            raise LdContextNotAvailable(f"{url} is not a JSON-LD context document")
        return body

    # -- the /jsonldContexts resource ------------------------------------
    async def add_hosted(self, body: Any) -> StoredContext:
        if not isinstance(body, dict) or "@context" not in body:
            raise BadRequestData("a hosted context must be a JSON object with an @context member")
        inner = body["@context"]
        if not isinstance(inner, (dict, list, str)):
            raise BadRequestData("@context must be an object, an array or a string")
        try:
            documents = {u: await self.document(u) for u in ld.referenced_urls(inner)}
            ld.build(inner, documents)
        except ld.ContextError as err:
            raise BadRequestData(f"invalid @context: {err}") from None
        context_id = "urn:ngsi-ld:jsonldContext:" + hashlib.sha256(orjson.dumps(body)).hexdigest()[:32]
        url = self.base_url + HOSTED_PREFIX + context_id
        item = StoredContext(context_id, url, "Hosted", body, now_iso())
        await self.store.put_context(item)
        return item

    async def implicit(self, ctx: Any) -> StoredContext:
        """Record an inline @context of a request as an ImplicitlyCreated context."""
        body = {"@context": ctx}
        context_id = "urn:ngsi-ld:jsonldContext:" + hashlib.sha256(orjson.dumps(body)).hexdigest()[:32]
        item = await self.store.get_context(context_id)
        if item is None:
            url = self.base_url + HOSTED_PREFIX + context_id
            item = StoredContext(context_id, url, "ImplicitlyCreated", body, now_iso())
            await self.store.put_context(item)
        return item

    async def list(self, kind: str | None) -> list[StoredContext]:
        if kind is not None and kind not in ("Hosted", "Cached", "ImplicitlyCreated"):
            raise BadRequestData(f"unknown kind {kind!r}")
        items = [self._core_item()] + await self.store.list_contexts()
        return [item for item in items if kind is None or item.kind == kind]

    def _core_item(self, url: str = ld.DEFAULT_CORE_URL) -> StoredContext:
        return StoredContext(url, url, "Cached", self.core_docs[url], self.started_at)

    async def get(self, context_id: str) -> StoredContext:
        if context_id in self.core_docs:
            return self._core_item(context_id)
        item = await self.store.get_context(context_id)
        if item is None:
            item = await self.store.get_context(_id_for(context_id))
        if item is None:
            raise ResourceNotFound(f"no @context {context_id}")
        return item

    async def delete(self, context_id: str, reload: bool) -> None:
        if context_id in self.core_docs:
            if reload:
                return  # the core contexts are built in: reloading them is a no-op
            raise BadRequestData("the core @context cannot be deleted")
        if reload:
            found = await self.store.get_context(context_id)
            if found is None or found.kind != "Cached":
                raise BadRequestData("only an existing cached @context can be reloaded")
        item = await self.get(context_id)
        if reload:
            self._forget(item.url)
            body = await self._fetch(item.url)
            item.body = body
            await self.store.put_context(item)
            return
        await self.store.delete_context(item.id)
        self._forget(item.url)

    def _forget(self, url: str) -> None:
        self._documents.pop(url, None)
        self._active.clear()


def _id_for(url: str) -> str:
    """The identifier under which a cached remote context is stored: its URL."""
    if not url:
        raise InvalidRequest("empty @context URL")
    return url
