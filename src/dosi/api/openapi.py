"""The OpenAPI 3.1 description of Dosi's HTTP API, served at /openapi.json.

Built from small tables: each operation names its parameters and body; every answer outside 2xx is a
ProblemDetails. A test checks that every route of the app is described and nothing else.
"""

from __future__ import annotations

from typing import Any

from dosi import __version__

NGSI = "/ngsi-ld/v1"
DOSI = "/dosi/v1"

_PROBLEM = {
    "type": "object",
    "required": ["type", "title"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}
_ATTRIBUTE = {
    "type": "object",
    "properties": {
        "type": {
            "enum": [
                "Property",
                "Relationship",
                "GeoProperty",
                "LanguageProperty",
                "VocabProperty",
                "ListProperty",
                "ListRelationship",
                "JsonProperty",
            ]
        },  # fmt: skip
        "value": {},
        "object": {"type": "string"},
        "observedAt": {"type": "string", "format": "date-time"},
        "unitCode": {"type": "string"},
        "datasetId": {"type": "string"},
    },
}
_ENTITY = {
    "type": "object",
    "required": ["id", "type"],
    "properties": {
        "id": {"type": "string", "format": "uri"},
        "type": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "scope": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    },
    "additionalProperties": {"$ref": "#/components/schemas/Attribute"},
}
_FRAGMENT = {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Attribute"}}
_SUBSCRIPTION = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uri"},
        "type": {"const": "Subscription"},
        "entities": {"type": "array", "items": {"type": "object"}},
        "watchedAttributes": {"type": "array", "items": {"type": "string"}},
        "q": {"type": "string"},
        "notification": {
            "type": "object",
            "properties": {
                "attributes": {"type": "array", "items": {"type": "string"}},
                "format": {"enum": ["normalized", "concise", "keyValues"]},
                "endpoint": {"type": "object", "properties": {"uri": {"type": "string"}}},
            },
        },
        "throttling": {"type": "number"},
        "timeInterval": {"type": "number"},
        "isActive": {"type": "boolean"},
    },
}
_QUERY = {
    "type": "object",
    "properties": {
        "type": {"const": "Query"},
        "entities": {"type": "array", "items": {"type": "object"}},
        "attrs": {"type": "array", "items": {"type": "string"}},
        "q": {"type": "string"},
        "geoQ": {"type": "object"},
        "temporalQ": {"type": "object"},
    },
}
_POLICY = {
    "type": "object",
    "required": ["subject", "actions"],
    "properties": {
        "id": {"type": "string", "format": "uri"},
        "subject": {"type": "string", "pattern": "^(role|user|client|key):.+$"},
        "actions": {"type": "array", "items": {"enum": ["read", "create", "update", "delete", "subscribe"]}},
        "tenant": {"type": "string"},
        "types": {"type": "array", "items": {"type": "string"}},
        "idPattern": {"type": "string"},
        "scopes": {"type": "array", "items": {"type": "string"}},
        "attributes": {"type": "array", "items": {"type": "string"}},
        "purpose": {"type": "string"},
        "validFrom": {"type": "string", "format": "date-time"},
        "validUntil": {"type": "string", "format": "date-time"},
        "description": {"type": "string"},
    },
}
_KEY = {
    "type": "object",
    "required": ["name", "roles"],
    "properties": {
        "name": {"type": "string"},
        "roles": {"type": "array", "items": {"enum": ["admin", "operator", "provider", "consumer", "public"]}},
        "tenants": {"oneOf": [{"type": "null"}, {"type": "array", "items": {"type": "string"}}]},
        "days": {"type": "number"},
    },
}
SCHEMAS = {
    "ProblemDetails": _PROBLEM,
    "Attribute": _ATTRIBUTE,
    "Entity": _ENTITY,
    "Fragment": _FRAGMENT,
    "Subscription": _SUBSCRIPTION,
    "Query": _QUERY,
    "Policy": _POLICY,
    "KeyRequest": _KEY,
    "Entities": {"type": "array", "items": {"$ref": "#/components/schemas/Entity"}},
    "Ids": {"type": "array", "items": {"type": "string", "format": "uri"}},
}

# query parameters, by name: (schema, description)
_PARAMS: dict[str, tuple[dict[str, Any], str]] = {
    "id": ({"type": "string"}, "Entity ids, comma-separated"),
    "type": ({"type": "string"}, "Entity type expression (, | ; ())"),
    "idPattern": ({"type": "string"}, "Regular expression over entity ids"),
    "attrs": ({"type": "string"}, "Attribute names, comma-separated"),
    "q": ({"type": "string"}, "NGSI-LD query language"),
    "scopeQ": ({"type": "string"}, "Scope query"),
    "georel": ({"type": "string"}, "near;maxDistance==N, within, contains, intersects, equals, disjoint, overlaps"),
    "geometry": ({"type": "string"}, "Point, LineString, Polygon, ..."),
    "coordinates": ({"type": "string"}, "GeoJSON coordinates"),
    "geoproperty": ({"type": "string"}, "The GeoProperty the geo-query applies to"),
    "limit": ({"type": "integer"}, "Page size"),
    "offset": ({"type": "integer"}, "Page start"),
    "count": ({"type": "boolean"}, "Answer the total in NGSILD-Results-Count"),
    "options": ({"type": "string"}, "keyValues, concise, sysAttrs, ..."),
    "format": ({"type": "string"}, "normalized, concise, simplified"),
    "orderBy": ({"type": "string"}, "Members or attributes to sort by"),
    "lang": ({"type": "string"}, "Language of LanguageProperties"),
    "pick": ({"type": "string"}, "Members to keep"),
    "omit": ({"type": "string"}, "Members to leave out"),
    "details": ({"type": "boolean"}, "Detailed type or attribute list"),
    "timerel": ({"enum": ["before", "after", "between"]}, "Temporal relation"),
    "timeAt": ({"type": "string"}, "Time of timerel"),
    "endTimeAt": ({"type": "string"}, "End of a between"),
    "timeproperty": ({"type": "string"}, "observedAt, createdAt, modifiedAt or deletedAt"),
    "lastN": ({"type": "integer"}, "The last N instances of each attribute"),
    "aggrMethods": ({"type": "string"}, "totalCount, distinctCount, sum, avg, min, max, stddev, sumsq"),
    "aggrPeriodDuration": ({"type": "string"}, "ISO 8601 duration of an aggregation period"),
    "datasetId": ({"type": "string"}, "Instances of these datasets"),
    "deleteAll": ({"type": "boolean"}, "Every dataset of the attribute"),
    "noOverwrite": ({"type": "boolean"}, "Keep existing attributes (options=noOverwrite)"),
    "source": ({"type": "string"}, "Ingest source name"),
    "pending": ({"type": "boolean"}, "Only rejections not replayed yet"),
    "after": ({"type": "integer"}, "Entries after this sequence number"),
}
_VIEW = ["attrs", "options", "format", "lang", "pick", "omit"]
_QUERY_PARAMS = ["id", "type", "idPattern", "q", "scopeQ", "georel", "geometry", "coordinates", "geoproperty",
                 "limit", "offset", "count", "orderBy", *_VIEW]  # fmt: skip
_TEMPORAL = ["timerel", "timeAt", "endTimeAt", "timeproperty", "lastN", "aggrMethods", "aggrPeriodDuration"]

# (method, path, summary, query parameters, body schema or None, success status)
Operation = tuple[str, str, str, list[str], str | None, int]
OPERATIONS: list[Operation] = [
    ("get", f"{NGSI}/entities", "Query entities", _QUERY_PARAMS, None, 200),
    ("post", f"{NGSI}/entities", "Create an entity", [], "Entity", 201),
    ("delete", f"{NGSI}/entities", "Purge the entities a query selects",
     ["id", "type", "idPattern", "q", "scopeQ", "georel", "geometry", "coordinates", "geoproperty"], None, 204),
    ("get", f"{NGSI}/entities/{{entityId}}", "Retrieve an entity", _VIEW, None, 200),
    ("put", f"{NGSI}/entities/{{entityId}}", "Replace an entity", [], "Entity", 204),
    ("patch", f"{NGSI}/entities/{{entityId}}", "Merge into an entity", [], "Fragment", 204),
    ("delete", f"{NGSI}/entities/{{entityId}}", "Delete an entity", [], None, 204),
    ("post", f"{NGSI}/entities/{{entityId}}/attrs", "Append attributes", ["options"], "Fragment", 204),
    ("patch", f"{NGSI}/entities/{{entityId}}/attrs", "Update attributes", [], "Fragment", 204),
    ("patch", f"{NGSI}/entities/{{entityId}}/attrs/{{attrId}}", "Partial attribute update", [], "Attribute", 204),
    ("put", f"{NGSI}/entities/{{entityId}}/attrs/{{attrId}}", "Replace an attribute", [], "Attribute", 204),
    ("delete", f"{NGSI}/entities/{{entityId}}/attrs/{{attrId}}", "Delete an attribute",
     ["datasetId", "deleteAll"], None, 204),
    ("post", f"{NGSI}/entityOperations/create", "Batch create", [], "Entities", 201),
    ("post", f"{NGSI}/entityOperations/upsert", "Batch upsert", ["options"], "Entities", 201),
    ("post", f"{NGSI}/entityOperations/update", "Batch update", ["options"], "Entities", 204),
    ("post", f"{NGSI}/entityOperations/merge", "Batch merge", [], "Entities", 204),
    ("post", f"{NGSI}/entityOperations/delete", "Batch delete", [], "Ids", 204),
    ("post", f"{NGSI}/entityOperations/query", "Query by POST", ["limit", "offset", "count", "options"], "Query", 200),
    ("get", f"{NGSI}/types", "Entity types", ["details"], None, 200),
    ("get", f"{NGSI}/types/{{type}}", "One entity type", [], None, 200),
    ("get", f"{NGSI}/attributes", "Attributes", ["details"], None, 200),
    ("get", f"{NGSI}/attributes/{{attrId}}", "One attribute", [], None, 200),
    ("get", f"{NGSI}/jsonldContexts", "Hosted @contexts", ["details"], None, 200),
    ("post", f"{NGSI}/jsonldContexts", "Host an @context", [], "Fragment", 201),
    ("get", f"{NGSI}/jsonldContexts/{{contextId}}", "One @context", [], None, 200),
    ("delete", f"{NGSI}/jsonldContexts/{{contextId}}", "Delete an @context", [], None, 204),
    ("get", f"{NGSI}/subscriptions", "Subscriptions (admins and operators: all; others: their own)",
     ["limit", "offset", "count"], None, 200),
    ("post", f"{NGSI}/subscriptions", "Subscribe", [], "Subscription", 201),
    ("get", f"{NGSI}/subscriptions/{{subscriptionId}}", "One subscription", [], None, 200),
    ("patch", f"{NGSI}/subscriptions/{{subscriptionId}}", "Change a subscription", [], "Subscription", 204),
    ("delete", f"{NGSI}/subscriptions/{{subscriptionId}}", "Unsubscribe", [], None, 204),
    ("get", f"{NGSI}/temporal/entities", "Query the history", _QUERY_PARAMS + _TEMPORAL, None, 200),
    ("post", f"{NGSI}/temporal/entities", "Add to the history", [], "Entity", 201),
    ("post", f"{NGSI}/temporal/entityOperations/query", "Query the history by POST",
     ["limit", "offset", "count", "options"], "Query", 200),
    ("get", f"{NGSI}/temporal/entities/{{entityId}}", "One entity's history", _VIEW + _TEMPORAL, None, 200),
    ("delete", f"{NGSI}/temporal/entities/{{entityId}}", "Delete an entity's history", [], None, 204),
    ("post", f"{NGSI}/temporal/entities/{{entityId}}/attrs", "Add attribute instances", [], "Fragment", 204),
    ("delete", f"{NGSI}/temporal/entities/{{entityId}}/attrs/{{attrId}}", "Delete an attribute's history",
     ["datasetId", "deleteAll"], None, 204),
    ("patch", f"{NGSI}/temporal/entities/{{entityId}}/attrs/{{attrId}}/{{instanceId}}", "Change an instance",
     [], "Attribute", 204),
    ("delete", f"{NGSI}/temporal/entities/{{entityId}}/attrs/{{attrId}}/{{instanceId}}", "Delete an instance",
     [], None, 204),
    ("get", f"{DOSI}/models", "Data models", [], None, 200),
    ("post", f"{DOSI}/models", "Register a data model (admin)", [], "Fragment", 201),
    ("get", f"{DOSI}/models/{{type}}", "One data model", [], None, 200),
    ("get", f"{DOSI}/models/{{type}}/schema", "A data model's JSON Schema", [], None, 200),
    ("get", f"{DOSI}/models/{{type}}/context", "A data model's @context", [], None, 200),
    ("get", f"{DOSI}/ingest/status", "Ingest sources' status", [], None, 200),
    ("get", f"{DOSI}/ingest/rejected", "Rejected messages (admin)", ["source", "pending", "after", "limit"],
     None, 200),
    ("post", f"{DOSI}/ingest/rejected/replay", "Replay rejected messages (admin)", ["source", "limit"], None, 200),
    ("post", f"{DOSI}/ingest/{{source}}", "Push readings to an HTTP ingest source", [], "Fragment", 200),
    ("get", f"{DOSI}/keys", "API keys (admin)", [], None, 200),
    ("post", f"{DOSI}/keys", "Issue an API key, shown once (admin)", [], "KeyRequest", 201),
    ("delete", f"{DOSI}/keys/{{keyId}}", "Revoke an API key (admin)", [], None, 204),
    ("get", f"{DOSI}/policies", "Access policies (admin)", [], None, 200),
    ("post", f"{DOSI}/policies", "Add an access policy (admin)", [], "Policy", 201),
    ("get", f"{DOSI}/policies/{{policyId}}", "One access policy (admin)", [], None, 200),
    ("put", f"{DOSI}/policies/{{policyId}}", "Create or replace an access policy (admin)", [], "Policy", 204),
    ("delete", f"{DOSI}/policies/{{policyId}}", "Remove an access policy (admin)", [], None, 204),
]  # fmt: skip

_HEADERS = [
    {"name": "NGSILD-Tenant", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "The tenant (absent: the default tenant)"},
    {"name": "Dosi-Purpose", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "The purpose of the request, for policies bound to one (recorded in the audit log)"},
]  # fmt: skip


def _operation(method: str, path: str, summary: str, params: list[str], body: str | None, ok: int) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in _path_names(path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": _PARAMS[name][0], "description": _PARAMS[name][1]}
        for name in params
    ]
    operation: dict[str, Any] = {
        "summary": summary,
        "operationId": f"{method}_{path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
        "parameters": parameters + _HEADERS,
        "responses": {
            str(ok): {"description": "Done"},
            "default": {
                "description": "A problem, as ETSI ProblemDetails",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
            },
        },
    }
    if body is not None:
        schema = {"$ref": f"#/components/schemas/{body}"}
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    return operation


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, params, body, ok in OPERATIONS:
        paths.setdefault(path, {})[method] = _operation(method, path, summary, params, body, ok)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Dosi (도시) smart-city data hub",
            "version": __version__,
            "description": "ETSI NGSI-LD under /ngsi-ld/v1, and Dosi's own resources under /dosi/v1.",
        },
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }
