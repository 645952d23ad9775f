"""HTTP edge helpers: JSON and problem-document responses, and the one place errors become status codes."""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any, Awaitable, Callable

import azure.functions as func

from shared.bootstrap import Services, get_services
from shared.domain.identifiers import CALL_ID, INVITATION_ID, WireIdRule, wire_id
from shared.errors import (
    AcsError, CallsteerError, ConfigError, Conflict, NotFound, PayloadTooLarge, StoreUnavailable, Unauthorized,
    UnsupportedMediaType, ValidationError,
)

log = logging.getLogger("callsteer")
PROBLEM_JSON = "application/problem+json"
# Callback bodies are a handful of small events; anything this large is not from ACS.
MAX_BODY_BYTES = 256 * 1024


def json_response(body: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None,
            **extra: Any) -> func.HttpResponse:
    """An RFC 9457 problem document."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype=PROBLEM_JSON, headers=headers)


def error_response(exc: CallsteerError) -> func.HttpResponse:
    """Map the app's errors to responses; the detail names the field or condition, never a secret."""
    if isinstance(exc, PayloadTooLarge):
        return problem(413, "Payload too large", str(exc))
    if isinstance(exc, UnsupportedMediaType):
        return problem(415, "Unsupported media type", str(exc), field="Content-Type")
    if isinstance(exc, ValidationError):
        return problem(400, "Invalid request", str(exc), field=exc.field)
    if isinstance(exc, Unauthorized):
        return problem(401, "Unauthorized", "the callback could not be authenticated")
    if isinstance(exc, NotFound):
        return problem(404, "Not found", str(exc))
    if isinstance(exc, Conflict):
        return problem(409, "Conflict", str(exc), state=exc.state)
    if isinstance(exc, AcsError):
        status = exc.status if exc.status is not None and 400 <= exc.status < 500 else 502
        return problem(status, "Call Automation error", str(exc), acsStatus=exc.status, acsCode=exc.code,
                       acsSubCode=exc.sub_code)
    if isinstance(exc, StoreUnavailable):
        return problem(503, "Storage unavailable", "call state storage is unavailable; retry shortly",
                       headers={"Retry-After": "2"})
    if isinstance(exc, ConfigError):
        return problem(500, "App misconfigured", str(exc))
    return problem(500, "Internal error", type(exc).__name__)


async def respond(work: Callable[[Services], Awaitable[func.HttpResponse]]) -> func.HttpResponse:
    """Run an HTTP handler with the process's services, turning the app's errors into problem documents."""
    try:
        return await work(await get_services())
    except Unauthorized as exc:
        log.warning("request refused: %s", exc)
        return error_response(exc)
    except (StoreUnavailable, ConfigError) as exc:
        log.error("request failed: %s", exc)
        return error_response(exc)
    except CallsteerError as exc:
        return error_response(exc)


def read_body(req: func.HttpRequest) -> bytes:
    """The request body, refused past MAX_BODY_BYTES."""
    body = req.get_body() or b""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    return body


def _is_json(content_type: str | None) -> bool:
    """application/json, or a +json type (application/problem+json, ...), parameters such as charset allowed."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def json_body(req: func.HttpRequest) -> dict[str, Any]:
    """The JSON object a control API request carries: Content-Type application/json (else 415), size-bounded.

    A page on another site can POST text/plain or a form without a CORS preflight; requiring JSON's own media type
    means such a request is refused before it is read, whatever it holds.
    """
    from shared.domain.requests import parse_json_object

    if not _is_json(req.headers.get("Content-Type")):
        given = (req.headers.get("Content-Type") or "none").split(";", 1)[0].strip()[:60]
        raise UnsupportedMediaType(f"Content-Type must be application/json (was {given!r})")
    return parse_json_object(read_body(req))


def route_id(req: func.HttpRequest, name: str, rule: WireIdRule = CALL_ID) -> str:
    """A path parameter that names a call or an invitation, checked before it reaches storage or an ACS path."""
    return wire_id(req.route_params.get(name), name, rule)


def invitation_id_param(req: func.HttpRequest) -> str:
    return route_id(req, "invitationId", INVITATION_ID)


def query_int(req: func.HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = req.params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"query parameter {name} must be a whole number", field=name) from None
    if not low <= value <= high:
        raise ValidationError(f"query parameter {name} must be from {low} to {high}", field=name)
    return value


def query_choice(req: func.HttpRequest, name: str, choices: tuple[str, ...]) -> str | None:
    raw = req.params.get(name)
    if raw in (None, ""):
        return None
    if raw not in choices:
        raise ValidationError(f"query parameter {name} must be one of {', '.join(choices)}", field=name)
    return raw


def operation_context_param(req: func.HttpRequest) -> str | None:
    """The optional operationContext query parameter of DELETE requests (which have no body)."""
    from shared.domain.requests import operation_context

    return operation_context({"operationContext": req.params.get("operationContext") or None})


_OPENAPI = Path(__file__).resolve().parent / "openapi.json"


@lru_cache(maxsize=1)
def _openapi_bytes() -> bytes:
    return _OPENAPI.read_bytes()


def openapi_response() -> func.HttpResponse:
    """The API's OpenAPI document, read once per process."""
    return func.HttpResponse(_openapi_bytes(), status_code=200, mimetype="application/json")
