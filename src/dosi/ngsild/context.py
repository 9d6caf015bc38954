"""JSON-LD @context handling with precomputed term maps.

A small, fast subset of JSON-LD 1.1 context processing, enough for NGSI-LD:
term definitions (strings or objects with @id/@type), prefixes and compact IRIs,
@vocab, nested and remote contexts. Remote documents are not fetched here: the
caller passes a `documents` mapping, and `MissingDocument` names what is missing.

The ETSI core context is applied after the user's context, so core terms always
win, as the NGSI-LD API requires.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

CORE_CONTEXT_URLS: tuple[str, ...] = tuple(
    f"https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.{minor}.jsonld" for minor in (6, 7, 8, 9)
) + ("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",)
DEFAULT_CORE_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
NGSILD = "https://uri.etsi.org/ngsi-ld/"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"

_KEYWORD_IRIS = {"@id", "@type", "@value", "@language", "@json", "@vocab", "@none", "@graph"}


class ContextError(ValueError):
    """The @context is malformed."""


class MissingDocument(LookupError):
    """A remote context must be fetched before this context can be processed."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


COMPACTED_KEPT = 4096  # IRIs whose compaction a context remembers (a bound: attribute names come from clients)


@dataclass(frozen=True)
class Term:
    iri: str
    coerce: str | None = None  # "@id", "@vocab", "@json", a datatype IRI, or None
    prefix: bool = False


@dataclass
class ActiveContext:
    terms: dict[str, Term] = field(default_factory=dict)
    vocab: str | None = None
    _reverse: dict[str, str] | None = None
    _prefixes: list[tuple[str, str]] | None = None
    _compacted: dict[str, str] = field(default_factory=dict)  # compact()'s answers, up to COMPACTED_KEPT of them

    # -- expansion -------------------------------------------------------
    def expand(self, value: str, vocab: bool = True) -> str:
        """Expand a term, compact IRI or IRI to an absolute IRI."""
        term = self.terms.get(value)
        if term is not None and vocab:
            return term.iri
        if value.startswith("@"):
            return value
        colon = value.find(":")
        if colon > 0:
            prefix, suffix = value[:colon], value[colon + 1 :]
            if suffix.startswith("//") or prefix in ("urn", "http", "https"):
                return value
            pterm = self.terms.get(prefix)
            if pterm is not None:
                return pterm.iri + suffix
            return value
        if vocab and self.vocab is not None:
            return self.vocab + value
        return value

    def coercion(self, term: str) -> str | None:
        found = self.terms.get(term)
        return found.coerce if found else None

    def coercion_of_iri(self, iri: str) -> str | None:
        term = self.compact(iri)
        return self.coercion(term)

    # -- compaction ------------------------------------------------------
    def terms_changed(self) -> None:
        """Forget what compaction derived from the terms (call after changing them)."""
        self._reverse = None
        self._prefixes = None
        self._compacted = {}

    def _build_reverse(self) -> None:
        reverse: dict[str, str] = {}
        prefixes: list[tuple[str, str]] = []
        for name, term in self.terms.items():
            best = reverse.get(term.iri)
            if best is None or (len(name), name) < (len(best), best):
                reverse[term.iri] = name
            if ":" not in name and (term.prefix or term.iri.endswith(("/", "#", ":"))):
                prefixes.append((term.iri, name))
        prefixes.sort(key=lambda pair: -len(pair[0]))
        self._reverse = reverse
        self._prefixes = prefixes

    def compact(self, iri: str) -> str:
        """Compact an absolute IRI to the shortest term or compact IRI."""
        known = self._compacted.get(iri)
        if known is None:
            known = self._compact(iri)
            if len(self._compacted) < COMPACTED_KEPT:
                self._compacted[iri] = known
        return known

    def _compact(self, iri: str) -> str:
        if self._reverse is None:
            self._build_reverse()
        assert self._reverse is not None and self._prefixes is not None
        term = self._reverse.get(iri)
        if term is not None:
            return term
        if self.vocab and iri.startswith(self.vocab):
            suffix = iri[len(self.vocab) :]
            if suffix and suffix not in self.terms and ":" not in suffix:
                return suffix
        best: str | None = None
        for base, name in self._prefixes:
            if iri.startswith(base) and len(iri) > len(base):
                candidate = f"{name}:{iri[len(base) :]}"
                if candidate in self.terms and self.terms[candidate].iri != iri:
                    continue
                if best is None or len(candidate) < len(best):
                    best = candidate
        return best or iri


def _json_load(text: str | bytes) -> Any:
    return json.loads(text)


@lru_cache(maxsize=1)
def core_document() -> dict[str, Any]:
    """The ETSI core @context shipped with Dosi (used for v1.6 to v1.9 alike)."""
    raw = resources.files("dosi.data.contexts").joinpath("ngsi-ld-core-context-v1.8.jsonld").read_text()
    doc = _json_load(raw)
    assert isinstance(doc, dict)
    return doc


def is_core_url(url: str) -> bool:
    return url in CORE_CONTEXT_URLS


def _define(active: ActiveContext, local: Mapping[str, Any], name: str, defined: dict[str, bool]) -> None:
    """Create one term definition (JSON-LD 1.1, 'Create Term Definition', simplified)."""
    if defined.get(name):
        return
    defined[name] = False  # being defined: guards cycles
    value = local[name]
    if value is None:
        active.terms.pop(name, None)
        defined[name] = True
        return
    coerce: str | None = None
    prefix_flag = False
    if isinstance(value, str):
        raw_id: str | None = value
    elif isinstance(value, dict):
        raw_id = value.get("@id")
        if raw_id is None and "@reverse" in value:
            defined[name] = True
            return
        raw_type = value.get("@type")
        if raw_type is not None:
            if not isinstance(raw_type, str):
                raise ContextError(f"invalid @type in term definition of {name!r}")
            coerce = raw_type if raw_type.startswith("@") else _expand_in(active, local, raw_type, defined)
        prefix_flag = bool(value.get("@prefix", False))
    else:
        raise ContextError(f"invalid term definition for {name!r}")
    if raw_id is None:
        iri = _expand_in(active, local, name, defined)
    elif not isinstance(raw_id, str):
        raise ContextError(f"invalid @id in term definition of {name!r}")
    elif raw_id in _KEYWORD_IRIS or raw_id.startswith("@"):
        iri = raw_id
    else:
        iri = _expand_in(active, local, raw_id, defined)
    active.terms[name] = Term(iri=iri, coerce=coerce, prefix=prefix_flag)
    defined[name] = True


def _expand_in(active: ActiveContext, local: Mapping[str, Any], value: str, defined: dict[str, bool]) -> str:
    """Expand an IRI while a local context is being processed (terms may refer to each other)."""
    if value in local and not value.startswith("@") and value not in defined:
        _define(active, local, value, defined)
    colon = value.find(":")
    if colon > 0:
        prefix = value[:colon]
        if prefix in local and prefix not in defined:
            _define(active, local, prefix, defined)
    return active.expand(value)


def _apply(active: ActiveContext, ctx: Any, documents: Mapping[str, Any], depth: int) -> None:
    if depth > 16:
        raise ContextError("@context nesting is too deep")
    if ctx is None:
        active.terms.clear()
        active.vocab = None
        return
    if isinstance(ctx, list):
        for item in ctx:
            _apply(active, item, documents, depth + 1)
        return
    if isinstance(ctx, str):
        if is_core_url(ctx):
            return  # the core context is applied last anyway
        doc = documents.get(ctx)
        if doc is None:
            raise MissingDocument(ctx)
        if not isinstance(doc, dict) or "@context" not in doc:
            raise ContextError(f"{ctx} is not a JSON-LD context document")
        _apply(active, doc["@context"], documents, depth + 1)
        return
    if not isinstance(ctx, dict):
        raise ContextError("@context must be a string, an object or an array")
    if "@import" in ctx:
        imported = ctx["@import"]
        if not isinstance(imported, str):
            raise ContextError("@import must be a string")
        _apply(active, imported, documents, depth + 1)
    if "@vocab" in ctx:
        vocab = ctx["@vocab"]
        if vocab is None:
            active.vocab = None
        elif isinstance(vocab, str):
            active.vocab = active.expand(vocab) if ":" in vocab or vocab in active.terms else vocab
        else:
            raise ContextError("@vocab must be a string")
    defined: dict[str, bool] = {}
    for name in ctx:
        if name.startswith("@"):
            continue
        _define(active, ctx, name, defined)
    active.terms_changed()


def referenced_urls(ctx: Any) -> list[str]:
    """Remote context URLs directly referenced by a @context value (not the core ones)."""
    found: list[str] = []
    items = ctx if isinstance(ctx, list) else [ctx]
    for item in items:
        if isinstance(item, str) and not is_core_url(item):
            found.append(item)
        elif isinstance(item, dict) and isinstance(item.get("@import"), str) and not is_core_url(item["@import"]):
            found.append(item["@import"])
    return found


@lru_cache(maxsize=1)
def core_active() -> ActiveContext:
    active = ActiveContext()
    _apply(active, core_document()["@context"], {}, 0)
    return active


def build(ctx: Any, documents: Mapping[str, Any]) -> ActiveContext:
    """Build the active context for a user @context (None means the core context alone)."""
    core = core_active()
    if ctx is None or ctx == [] or (isinstance(ctx, str) and is_core_url(ctx)):
        return core
    active = ActiveContext(terms=dict(core.terms), vocab=core.vocab)
    _apply(active, ctx, documents, 0)
    active.terms.update(core.terms)  # the core context is protected: its terms always win
    active.terms_changed()
    return active
