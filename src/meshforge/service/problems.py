"""RFC 9457 problem details. Every error has a stable ``type`` URI
(``urn:meshforge:problem:<code>``) and a ``code``; library errors keep their own code,
stage and hint."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from meshforge.errors import DependencyError, InputError, MeshforgeError

MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    416: "Range not satisfiable",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(Exception):  # noqa: N818 - an HTTP problem document, not only an error
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    status: int,
    code: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"urn:meshforge:problem:{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def from_library_error(error: MeshforgeError) -> Problem:
    status = (
        422 if isinstance(error, InputError) else 503 if isinstance(error, DependencyError) else 500
    )
    return Problem(status, error.code, str(error), stage=error.stage, hint=error.hint or "")


def install_handlers(app: Any) -> None:
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status, exc.code, exc.detail, request.url.path, exc.headers, **exc.extra
        )

    async def _library(request: Request, exc: MeshforgeError) -> JSONResponse:
        problem = from_library_error(exc)
        return problem_response(
            problem.status, problem.code, problem.detail, request.url.path, **problem.extra
        )

    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": e.get("msg", ""),
                "type": e.get("type"),
            }
            for e in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
        return problem_response(422, "invalid-request", detail, request.url.path, errors=errors)

    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(
            exc.status_code, code, str(exc.detail), request.url.path, dict(exc.headers or {})
        )

    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(MeshforgeError, _library)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
