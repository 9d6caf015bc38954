"""The error tree. Each class is one ETSI problem type: a type URI and an HTTP status.

Code raises these; `dosi.api.app` renders every one of them as ProblemDetails in one place.
"""

from __future__ import annotations

from typing import Any

ETSI = "https://uri.etsi.org/ngsi-ld/errors/"


class DosiError(Exception):
    """Base of every error Dosi reports to a client."""

    type_uri: str = ETSI + "InternalError"
    title: str = "Internal error"
    status: int = 500

    def __init__(self, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type_uri, "title": self.title, "status": self.status}
        body["detail"] = self.detail
        body.update(self.extra)
        return body


class InvalidRequest(DosiError):
    type_uri = ETSI + "InvalidRequest"
    title = "The request is not well formed"
    status = 400


class BadRequestData(DosiError):
    type_uri = ETSI + "BadRequestData"
    title = "The request contains input data which does not meet the requirements"
    status = 400


class ModelViolation(BadRequestData):
    """An entity that does not fit its type's registered data model (validation mode strict)."""


class AlreadyExists(DosiError):
    type_uri = ETSI + "AlreadyExists"
    title = "The referred element already exists"
    status = 409


class CreatedConcurrently(AlreadyExists):
    """An entity read as absent was created by a concurrent transaction before this one wrote: retry the write."""


class OperationNotSupported(DosiError):
    type_uri = ETSI + "OperationNotSupported"
    title = "The operation is not supported"
    status = 422


class ResourceNotFound(DosiError):
    type_uri = ETSI + "ResourceNotFound"
    title = "The referred resource has not been found"
    status = 404


class NonexistentTenant(DosiError):
    type_uri = ETSI + "NonexistentTenant"
    title = "The addressed tenant does not exist"
    status = 404


class TooComplexQuery(DosiError):
    type_uri = ETSI + "TooComplexQuery"
    title = "The query is too complex"
    status = 403


class TooManyResults(DosiError):
    type_uri = ETSI + "TooManyResults"
    title = "The query result is too large"
    status = 403


class LdContextNotAvailable(DosiError):
    type_uri = ETSI + "LdContextNotAvailable"
    title = "The JSON-LD @context could not be retrieved"
    status = 503


class InternalError(DosiError):
    pass


class NotAcceptable(DosiError):
    type_uri = "urn:dosi:error:NotAcceptable"
    title = "None of the media types in Accept can be produced"
    status = 406


class UnsupportedMediaType(DosiError):
    type_uri = "urn:dosi:error:UnsupportedMediaType"
    title = "The request's Content-Type is not supported"
    status = 415


class MethodNotAllowed(DosiError):
    type_uri = "urn:dosi:error:MethodNotAllowed"
    title = "The method is not allowed on this resource"
    status = 405


class PayloadTooLarge(DosiError):
    type_uri = "urn:dosi:error:PayloadTooLarge"
    title = "The request body is too large"
    status = 413


class Unauthorized(DosiError):
    type_uri = "urn:dosi:error:Unauthorized"
    title = "The request carries no valid credentials / 인증 정보가 없거나 유효하지 않습니다"
    status = 401


class Forbidden(DosiError):
    type_uri = "urn:dosi:error:Forbidden"
    title = "The credentials do not allow this request / 이 요청에 대한 권한이 없습니다"
    status = 403


class TooManyRequests(DosiError):
    type_uri = "urn:dosi:error:TooManyRequests"
    title = "Too many requests: slow down / 요청이 너무 많습니다"
    status = 429

    def __init__(self, detail: str = "", retry_after: int = 1):
        super().__init__(detail)
        self.retry_after = retry_after


ALL_ERRORS: tuple[type[DosiError], ...] = (
    InvalidRequest,
    BadRequestData,
    AlreadyExists,
    OperationNotSupported,
    ResourceNotFound,
    NonexistentTenant,
    TooComplexQuery,
    TooManyResults,
    LdContextNotAvailable,
    InternalError,
    NotAcceptable,
    UnsupportedMediaType,
    MethodNotAllowed,
    PayloadTooLarge,
    Unauthorized,
    Forbidden,
    TooManyRequests,
)
