"""REST polling of open-data APIs (the Korean public data portal's shape): a service key parameter,
time-templated query parameters, paging, JSON or XML answers.

    [poll]
    url = "https://apis.example.kr/B552584/ArpltnInforInqireSvc/getCtprvnRltmMesureDnsty"
    interval = 600                       # seconds between polls
    params = { serviceKey = "${env:DATA_GO_KR_KEY}", returnType = "json", sidoName = "서울",
               numOfRows = "100", pageNo = "{page}", searchDate = "{now:%Y-%m-%d}" }
    total = "response.body.totalCount"   # where the answer says how many items there are
    page_size = 100
    result_code = "response.header.resultCode"   # an answer whose code is not ok_codes is an error
    ok_codes = ["00"]
"""

from __future__ import annotations

import asyncio
import math
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from dosi.errors import BadRequestData
from dosi.ingest.config import SourceConfig
from dosi.ingest.formats import parse
from dosi.ingest.mapping import Missing, Rejected, lookup
from dosi.ingest.source import Deliver, Message
from dosi.outbound import OutboundGuard

_NOW = re.compile(r"\{now(?:([+-]\d+)h)?:([^{}]+)\}")
MAX_PAGES = 1000


def fill(template: str, page: int, page_size: int, now: datetime) -> str:
    """`{page}`, `{start}`/`{end}` (1-based rows of the page), and `{now:FORMAT}` / `{now-1h:FORMAT}`."""

    def one(match: re.Match[str]) -> str:
        shift = int(match.group(1) or 0)
        return (now + timedelta(hours=shift)).strftime(match.group(2))

    start, end = (page - 1) * page_size + 1, page * page_size
    return (
        _NOW.sub(one, template).replace("{page}", str(page)).replace("{start}", str(start)).replace("{end}", str(end))
    )


class PollSource:
    def __init__(self, config: SourceConfig, guard: OutboundGuard, transport: httpx.AsyncBaseTransport | None = None):
        self.name = config.name
        self.config = config
        self.guard = guard
        self.transport = transport  # tests record the city's API as fixtures at this seam
        self.url = str(config.option("url", ""))
        self.shown = str(config.options.get("url", ""))  # as configured: ${env:KEY} not filled in, for messages
        self.interval = float(config.option("interval", 600))
        self.page_size = int(config.option("page_size", 100))
        self.total = config.option("total")
        self.result_code = config.option("result_code")
        self.ok_codes = [str(c) for c in config.option("ok_codes", ["00"])]
        self.timezone = ZoneInfo(str(config.option("timezone", "Asia/Seoul")))
        self.timeout = float(config.option("timeout", 20))

    async def run(self, deliver: Deliver) -> None:
        while True:
            await self.poll_once(deliver)
            await asyncio.sleep(self.interval)

    async def poll_once(self, deliver: Deliver) -> int:
        """Fetches every page once and hands each over; returns the pages read."""
        try:
            await self.guard.check(fill(self.url, 1, self.page_size, datetime.now(self.timezone)))
        except BadRequestData:  # its message would show the URL with the service key filled in
            raise PermissionError(
                f"{self.shown}: the outbound guard refuses this address (DOSI_OUTBOUND_ALLOW)"
            ) from None
        params: dict[str, Any] = self.config.option("params", {})
        now = datetime.now(self.timezone)
        pages = 1
        page = 1
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False, transport=self.transport) as client:
            while page <= pages:
                url = fill(self.url, page, self.page_size, now)
                query = {key: fill(str(value), page, self.page_size, now) for key, value in params.items()}
                try:
                    answer = await client.get(url, params=query)
                except httpx.HTTPError as err:  # its text may hold the URL, key included
                    raise ConnectionError(f"{self.shown}: {type(err).__name__}") from None
                if answer.status_code != 200:
                    raise ConnectionError(f"{self.shown} answered HTTP {answer.status_code}")
                body = answer.content
                self._check(body)
                await deliver([Message(body, {"page": page})])
                pages = self._pages(body, pages)
                page += 1
        return pages

    def _document(self, body: bytes) -> Any:
        fmt = "xml" if body.lstrip().startswith(b"<") else self.config.format
        try:
            return parse(body, fmt)[0]
        except Rejected:
            return None

    def _check(self, body: bytes) -> None:
        """The portal answers errors (a bad key, over quota) with 200 and an error document, often in XML."""
        document = self._document(body)
        if document is None:
            return  # unparseable: the pipeline records it as rejected
        auth = lookup(document, "OpenAPI_ServiceResponse.cmmMsgHeader")
        if auth is not Missing:
            reason = lookup(auth, "returnAuthMsg")
            raise PermissionError(f"{self.shown}: {reason if reason is not Missing else auth} / 공공데이터 API 오류")
        if self.result_code:
            code = lookup(document, str(self.result_code))
            if code is not Missing and str(code) not in self.ok_codes:
                raise ConnectionError(f"{self.shown} answered result code {code}")

    def _pages(self, body: bytes, current: int) -> int:
        if not self.total:
            return current
        document = self._document(body)
        total = lookup(document, str(self.total)) if document is not None else Missing
        try:
            return min(MAX_PAGES, max(1, math.ceil(int(total) / self.page_size)))
        except (TypeError, ValueError):
            return current
