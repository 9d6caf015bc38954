"""Updates sent at a fixed rate over kept-alive connections, as S8 sends them (and its floor measures them)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def post_paced(
    target: Callable[[int], tuple[str, bytes]], rate: float, count: int, window: int = 8
) -> list[float]:
    """POST `count` requests, the n-th at n / rate seconds, at most `window` in flight; each one's answer time in
    ms. `target(n)` gives the n-th URL and body; the body is made when it is sent."""
    from dosi.notify.http1 import KeepAliveClient

    answered: list[float] = []
    sender = KeepAliveClient(timeout=10, per_host=window)
    slots = asyncio.Semaphore(window)
    began = time.perf_counter()

    async def send(sequence: int) -> None:
        async with slots:
            delay = began + sequence / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            url, body = target(sequence)
            posted = time.perf_counter()
            await sender.post(url, body, {"Content-Type": "application/json"})
            answered.append((time.perf_counter() - posted) * 1000)

    try:
        await asyncio.gather(*(send(i) for i in range(count)))
    finally:
        await sender.close()
    return answered
