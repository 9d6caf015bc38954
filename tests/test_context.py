"""@context processing: term maps, prefixes, @vocab and the ETSI core context."""

from __future__ import annotations

import pytest

from dosi.ngsild.context import ContextError, MissingDocument, build, core_active

VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
SUITE = {
    "@context": {"almostFull": "https://example.org/ctx#almostFull", "Building": "https://example.org/ctx#Building"}
}


def test_core_terms_and_default_vocab() -> None:
    core = core_active()
    assert core.expand("location") == "https://uri.etsi.org/ngsi-ld/location"
    assert core.expand("speed") == VOCAB + "speed"
    assert core.compact(VOCAB + "speed") == "speed"
    assert core.compact("https://uri.etsi.org/ngsi-ld/observationSpace") == "observationSpace"
    assert core.compact("https://other.example/x") == "https://other.example/x"


def test_user_terms_and_compaction_fallback_to_prefix() -> None:
    active = build("http://ctx.test/suite.jsonld", {"http://ctx.test/suite.jsonld": SUITE})
    assert active.expand("almostFull") == "https://example.org/ctx#almostFull"
    # a default-vocabulary IRI whose short form is taken by another term compacts through the ngsi-ld prefix
    assert active.compact(VOCAB + "almostFull") == "ngsi-ld:default-context/almostFull"
    assert active.compact(VOCAB + "other") == "other"


def test_core_terms_cannot_be_redefined() -> None:
    active = build({"location": "https://evil.example/location"}, {})
    assert active.expand("location") == "https://uri.etsi.org/ngsi-ld/location"


def test_prefixes_and_nested_documents() -> None:
    ctx = [{"ex": "https://example.org/", "tower": "ex:Tower"}, "http://ctx.test/a.jsonld"]
    docs = {"http://ctx.test/a.jsonld": {"@context": {"height": {"@id": "ex:height", "@type": "@id"}}}}
    active = build(ctx, docs)
    assert active.expand("tower") == "https://example.org/Tower"
    assert active.expand("ex:floor") == "https://example.org/floor"
    assert active.compact("https://example.org/floor") == "ex:floor"
    assert active.coercion("height") == "@id"


def test_missing_document_is_named() -> None:
    with pytest.raises(MissingDocument) as err:
        build("http://ctx.test/missing.jsonld", {})
    assert err.value.url == "http://ctx.test/missing.jsonld"


def test_malformed_context() -> None:
    with pytest.raises(ContextError):
        build({"a": 5}, {})


def test_compaction_is_remembered_within_a_bound_and_forgotten_when_terms_change() -> None:
    import dosi.ngsild.context as context

    active = build({"road": "https://example.org/road"}, {})
    assert active.compact("https://example.org/lane") == "https://example.org/lane"
    active.terms["lane"] = context.Term("https://example.org/lane")
    active.terms_changed()
    assert active.compact("https://example.org/lane") == "lane"
    for n in range(context.COMPACTED_KEPT + 50):  # attribute names come from clients: the memory stays bounded
        assert active.compact(f"https://example.org/a{n}") == f"https://example.org/a{n}"
    assert len(active._compacted) == context.COMPACTED_KEPT
