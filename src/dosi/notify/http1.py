"""A small HTTP/1.1 POST client with kept-alive connections, for plain-http notification endpoints.

General clients cost milliseconds of CPU per request; a notifier sends thousands of small
POSTs to the same few receivers, so it keeps connections open and writes requests directly.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from urllib.parse import urlsplit


class HttpError(Exception):
    pass


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class KeepAliveClient:
    def __init__(self, timeout: float, per_host: int = 8):
        self.timeout = timeout
        self.per_host = per_host
        self.idle: dict[tuple[str, int], list[Connection]] = defaultdict(list)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST and return the status code. Raises HttpError (or OSError) when no answer came."""
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or 80
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items() if "\r" not in k + v and "\n" not in k + v]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body
        for attempt in (0, 1):  # a kept-alive connection may have been closed by the server meanwhile
            reused = attempt == 0 and bool(self.idle[(host, port)])  # the retry always opens a fresh one
            conn = self.idle[(host, port)].pop() if reused else await self._connect(host, port)
            try:
                status, keep = await asyncio.wait_for(self._exchange(conn, request), self.timeout)
            except (OSError, asyncio.IncompleteReadError, HttpError, TimeoutError) as err:
                conn[1].close()
                if reused and not isinstance(err, TimeoutError):
                    for stale in self.idle.pop((host, port), []):  # kept as long as this one: likely closed too
                        stale[1].close()
                    continue
                raise HttpError(f"{type(err).__name__}: {err}") from None
            except BaseException:  # cancelled mid-request: never leave a half-used connection open
                conn[1].close()
                raise
            if keep and len(self.idle[(host, port)]) < self.per_host:
                self.idle[(host, port)].append(conn)
            else:
                conn[1].close()
            return status
        raise HttpError("no answer")

    async def _connect(self, host: str, port: int) -> Connection:
        try:
            return await asyncio.wait_for(asyncio.open_connection(host, port), self.timeout)
        except (OSError, TimeoutError) as err:
            raise HttpError(f"cannot connect to {host}:{port}: {err}") from None

    @staticmethod
    async def _exchange(conn: Connection, request: bytes) -> tuple[int, bool]:
        reader, writer = conn
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status_parts = lines[0].split(" ", 2)
        if len(status_parts) < 2 or not status_parts[1].isdigit():
            raise HttpError(f"malformed status line {lines[0]!r}")
        status = int(status_parts[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        keep = lines[0].startswith("HTTP/1.1") and fields.get("connection", "").lower() != "close"
        if "content-length" in fields:
            await reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        elif status not in (204, 304) and not 100 <= status < 200:
            await reader.read()  # the body ends when the server closes
            keep = False
        return status, keep

    async def close(self) -> None:
        for connections in self.idle.values():
            for _, writer in connections:
                writer.close()
        self.idle.clear()
