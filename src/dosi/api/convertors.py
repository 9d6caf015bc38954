"""Path convertors the routes use; importing this module registers them."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class SegmentConvertor(Convertor[str]):
    """A path segment that may be empty, so /entities//attrs answers 400 rather than 404."""

    regex = "[^/]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("seg", SegmentConvertor())
