"""A stand-in for the city's open-data portals, on this machine: the demo's polling sources read it exactly as
they would read the real APIs (AirKorea through the public data portal, Seoul's bikeList)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dosi.demo.city import City, SimClock

AIR_PATH = "/B552584/ArpltnInforInqireSvc/getCtprvnRltmMesureDnsty"


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json;charset=UTF-8")


def portal_app(city: City, clock: SimClock) -> Starlette:
    async def air(request: Request) -> Response:
        rows, page = int(request.query_params.get("numOfRows", 10)), int(request.query_params.get("pageNo", 1))
        items = city.air_items(clock.now())
        body = {"totalCount": len(items), "items": items[(page - 1) * rows : page * rows], "pageNo": page,
                "numOfRows": rows}  # fmt: skip
        return _json({"response": {"body": body, "header": {"resultMsg": "NORMAL_CODE", "resultCode": "00"}}})

    async def bikes(request: Request) -> Response:
        start, end = int(request.path_params["start"]), int(request.path_params["end"])
        rows = city.bike_rows(clock.now())
        result = {"CODE": "INFO-000", "MESSAGE": "정상 처리되었습니다."}
        return _json(
            {"rentBikeStatus": {"list_total_count": len(rows), "RESULT": result, "row": rows[start - 1 : end]}}
        )

    return Starlette(
        routes=[
            Route(AIR_PATH, air),
            Route("/{key}/json/bikeList/{start:int}/{end:int}/", bikes),
        ]
    )
