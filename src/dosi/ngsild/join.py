"""Linked-entity retrieval (join=inline|flat, joinLevel) and nested pick/omit projections.

Pure functions: the caller fetches the linked entities (`targets` of each level) and
passes them in; this module decides what to follow and how to render it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dosi.ngsild.render import SIMPLIFIED, Renderer, View

Tree = dict[str, "Tree | None"]


def parse_tree(text: str) -> Tree:
    """`id,locatedAt{id,name,isInCountry{id}}` -> {"id": None, "locatedAt": {...}}. Syntax errors raise ValueError."""
    tree, pos = _parse_items(text, 0)
    if pos != len(text):
        raise ValueError("unbalanced braces")
    return tree


def _parse_items(text: str, pos: int) -> tuple[Tree, int]:
    tree: Tree = {}
    while True:
        start = pos
        while pos < len(text) and text[pos] not in ",{}":
            pos += 1
        name = text[start:pos].strip()
        if not name or any(c in name for c in ";\t\n "):
            raise ValueError(f"invalid name {name!r}")
        sub: Tree | None = None
        if pos < len(text) and text[pos] == "{":
            sub, pos = _parse_items(text, pos + 1)
            if pos >= len(text) or text[pos] != "}":
                raise ValueError("unbalanced braces")
            pos += 1
        tree[name] = sub
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        return tree, pos


def relationship_targets(entity: dict[str, Any], follow: frozenset[str] | None = None) -> list[str]:
    """Object URIs of an entity's Relationships (only those in `follow`, when given)."""
    found: list[str] = []
    for iri, instances in entity.get("attrs", {}).items():
        if follow is not None and iri not in follow:
            continue
        for inst in instances:
            if inst.get("type") != "Relationship":
                continue
            objects = inst.get("object")
            for target in objects if isinstance(objects, list) else [objects]:
                if isinstance(target, str) and target not in found:
                    found.append(target)
    return found


class Joiner:
    """Renders entities with their linked entities, given every entity that may be linked."""

    def __init__(self, renderer_for: Callable[[View], Renderer], linked: dict[str, dict[str, Any]], level: int):
        self.renderer_for = renderer_for
        self.linked = linked
        self.level = level

    def _followed(self, view: View, entity: dict[str, Any]) -> list[tuple[str, str, View]]:
        """(relationship IRI, target id, view of the target) for the relationships this view keeps."""
        out = []
        for iri, instances in entity.get("attrs", {}).items():
            if (view.attrs is not None and iri not in view.attrs) or iri in view.omit:
                continue
            for inst in instances:
                if inst.get("type") != "Relationship":
                    continue
                objects = inst.get("object")
                for target in objects if isinstance(objects, list) else [objects]:
                    if isinstance(target, str) and target in self.linked:
                        out.append((iri, target, view.links.get(iri, view.link_default())))
        return out

    def inline(self, entity: dict[str, Any], view: View, level: int | None = None) -> dict[str, Any]:
        level = self.level if level is None else level
        body = self.renderer_for(view).entity(entity)
        if level <= 0:
            return body
        renderer = self.renderer_for(view)
        for iri, target, sub_view in self._followed(view, entity):
            name = renderer.ctx.compact(iri)
            nested = self.inline(self.linked[target], sub_view, level - 1)
            current = body.get(name)
            if view.form == SIMPLIFIED:
                body[name] = nested
            elif isinstance(current, dict):
                current["entity"] = nested
        return body

    def flat(self, roots: list[dict[str, Any]], view: View) -> list[dict[str, Any]]:
        out = [body for body in (self.renderer_for(view).entity(e) for e in roots) if body]
        seen = {e["id"] for e in roots}
        frontier: list[tuple[dict[str, Any], View]] = [(e, view) for e in roots]
        for _ in range(self.level):
            next_frontier = []
            for entity, entity_view in frontier:
                for _iri, target, sub_view in self._followed(entity_view, entity):
                    if target in seen:
                        continue
                    seen.add(target)
                    linked = self.linked[target]
                    out.append(self.renderer_for(sub_view).entity(linked))
                    next_frontier.append((linked, sub_view))
            frontier = next_frontier
        return out
