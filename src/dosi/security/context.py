"""The access decision of the request being served, where the services can reach it.

The authentication middleware sets it for each request; work outside a request (notification delivery,
ingest sources the operator configured, the command line) runs with `EVERYTHING`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from dosi.errors import Forbidden
from dosi.ngsild.query import AttrPath, q_attributes
from dosi.security.policy import EVERYTHING, Access
from dosi.security.principal import OPEN, Principal
from dosi.store.base import EntityQuery


@dataclass
class Served:
    """One request: who asks, for what purpose, the access it holds, and how many entities its reads returned
    (for the audit of restricted reads)."""

    principal: Principal
    access: Access
    purpose: str | None = None
    rows: int = 0


_SERVED: ContextVar[Served | None] = ContextVar("dosi_served", default=None)


@contextmanager
def serving(served: Served) -> Iterator[None]:
    """Serve one request with this access (restored afterwards, so nothing leaks to the next request)."""
    token = _SERVED.set(served)
    try:
        yield
    finally:
        _SERVED.reset(token)


def principal() -> Principal:
    state = _SERVED.get()
    return OPEN if state is None else state.principal


def served_purpose() -> str | None:
    state = _SERVED.get()
    return None if state is None else state.purpose


def current() -> Access:
    state = _SERVED.get()
    return EVERYTHING if state is None else state.access


def count_rows(n: int) -> None:
    state = _SERVED.get()
    if state is not None:
        state.rows += n


def fenced(query: EntityQuery, action: str = "read", access: Access | None = None) -> EntityQuery:
    """The query limited to what the request may `action`: its fence, and no filter or sort on an attribute it
    may not see (a filter could reveal a hidden value through the entities it selects)."""
    access = access or current()
    if access.unlimited(action):
        return query
    paths: list[AttrPath | str] = [*(q_attributes(query.q) if query.q is not None else []), *(query.attrs or [])]
    paths += [key for key, _ in query.order_by or [] if isinstance(key, AttrPath)]
    if query.geo is not None:
        paths.append(query.geo.geoproperty)
    for path in paths:
        name = path if isinstance(path, str) else path.attr
        if not access.filterable(action, name):
            raise Forbidden(f"you may not filter or sort on {name} / 이 속성으로 조회할 권한이 없습니다")
    query.fence = access.fence(action)
    return query
