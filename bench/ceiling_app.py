"""The HTTP ceiling: a minimal ASGI app on the same server stack as Dosi (uvicorn, same workers and flags).

GET /get answers a fixed JSON document; POST /post parses the JSON body (orjson, as Dosi does) and answers 201.
"""

from __future__ import annotations

from typing import Any

import orjson

_DOC = orjson.dumps({"id": "urn:ngsi-ld:ParkingSpot:1", "type": "ParkingSpot", "status": "free"})
_JSON = [(b"content-type", b"application/json")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["method"] == "POST":
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        parsed = orjson.loads(body)
        await send({"type": "http.response.start", "status": 201, "headers": _JSON})
        await send({"type": "http.response.body", "body": orjson.dumps({"id": parsed.get("id")})})
        return
    await send({"type": "http.response.start", "status": 200, "headers": _JSON})
    await send({"type": "http.response.body", "body": _DOC})
