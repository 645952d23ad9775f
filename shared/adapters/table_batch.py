"""One Table Storage entity-group transaction ($batch with one changeset), built and read directly.

azure-data-tables' submit_transaction builds each operation as a request of its own, runs it through a pipeline of
policies and parses the multipart answer with the email package: most of the CPU a callback costs. The
transaction here is the same request on the wire (the REST API's "Performing entity group transactions": a
multipart/mixed batch holding one changeset of operations on one partition), built as text and sent through the
same TableClient's pipeline, so authentication, retries and timeouts are the client's own. Entities are
serialised by the SDK's own property encoder. Used for the few operation kinds the store needs: create, replace
under If-Match, delete.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from urllib.parse import quote

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.data.tables._serialize import _add_entity_properties

_STATUS = re.compile(rb"HTTP/1\.1 (\d{3})")
_ETAG = re.compile(rb"\r\nETag: ([^\r\n]+)", re.IGNORECASE)
_ERROR_INDEX = re.compile(r"^(\d+):")


class TransactionFailed(Exception):
    """One operation of the changeset was refused; the transaction changed nothing."""

    def __init__(self, status: int, error_code: str, index: int, message: str) -> None:
        super().__init__(f"{index}:{error_code} ({status}) {message[:200]}")
        self.status = status
        self.error_code = error_code
        self.index = index


def _key(value: str) -> str:
    return quote(value.replace("'", "''"), safe="")


def build(base_url: str, table: str, operations: list[tuple]) -> tuple[str, bytes]:
    """(Content-Type, body) of the batch request for `operations` of ("create" | "update" | "delete", entity,
    {"etag": ...}) on one partition."""
    batch, changeset = f"batch_{uuid.uuid4()}", f"changeset_{uuid.uuid4()}"
    parts = [f"--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"]
    for operation in operations:
        kind, entity = operation[0], operation[1]
        options = operation[2] if len(operation) > 2 else {}
        address = f"{base_url}/{table}(PartitionKey='{_key(entity['PartitionKey'])}',RowKey='{_key(entity['RowKey'])}')"
        headers = "DataServiceVersion: 3.0\r\nAccept: application/json;odata=minimalmetadata\r\n"
        body = ""
        if kind == "create":
            line = f"POST {base_url}/{table} HTTP/1.1"
            headers += "Content-Type: application/json\r\nPrefer: return-no-content\r\n"
            body = json.dumps(_add_entity_properties(entity), separators=(",", ":"))
        elif kind == "update":
            line = f"PUT {address} HTTP/1.1"
            headers += f"Content-Type: application/json\r\nIf-Match: {options.get('etag', '*')}\r\n"
            body = json.dumps(_add_entity_properties(entity), separators=(",", ":"))
        elif kind == "delete":
            line = f"DELETE {address} HTTP/1.1"
            headers += f"If-Match: {options.get('etag', '*')}\r\n"
        else:
            raise ValueError(f"unknown transaction operation {kind!r}")
        parts.append(f"--{changeset}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
                     f"{line}\r\n{headers}\r\n{body}\r\n")
    parts.append(f"--{changeset}--\r\n\r\n--{batch}--\r\n")
    # json.dumps escapes every non-ASCII character: the body is ASCII.
    return f"multipart/mixed; boundary={batch}", "".join(parts).encode("ascii")


def read(status: int, body: bytes, count: int) -> list[str | None]:
    """The ETag of each operation (None for deletes), or TransactionFailed for the operation that was refused."""
    statuses = [int(s) for s in _STATUS.findall(body)]
    if not statuses:
        raise TransactionFailed(status, "", 0, body[:200].decode("ascii", "replace"))
    failed = next((s for s in statuses if not 200 <= s < 300), None)
    if failed is not None:
        text = body.decode("utf-8", "replace")
        start = text.find("{")
        code, message = "", text[start:start + 300] if start >= 0 else ""
        try:
            error = json.JSONDecoder().raw_decode(text[start:])[0]["odata.error"]
            code, message = error.get("code", ""), error.get("message", {}).get("value", "")
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        index = _ERROR_INDEX.match(message)
        raise TransactionFailed(failed, code, int(index.group(1)) if index else 0, message)
    # Each part's headers follow its status line; an operation without an ETag (a delete) has none.
    etags: list[str | None] = []
    chunks = _STATUS.split(body)[1:]
    for n in range(0, len(chunks), 2):
        found = _ETAG.search(chunks[n + 1])
        etags.append(found.group(1).decode("ascii").strip() if found else None)
    return (etags + [None] * count)[:count]


async def submit(client: Any, operations: list[tuple]) -> list[str | None]:
    """Send one transaction through the TableClient's own pipeline; the ETags of its operations."""
    base_url = f"{client.scheme}://{client._primary_hostname}"
    content_type, body = build(base_url, client.table_name, operations)
    request = HttpRequest("POST", f"{base_url}/$batch", content=body, headers={
        "x-ms-version": client.api_version, "DataServiceVersion": "3.0", "MaxDataServiceVersion": "3.0;NetFx",
        "Content-Type": content_type, "Accept": "application/json"})
    # Streamed, as the SDK sends its own batches: the pipeline's JSON decoding stays out of the multipart answer.
    response = await client._client.send_request(request, stream=True)
    await response.read()
    if response.status_code != 202:
        raise HttpResponseError(message=f"the transaction answered {response.status_code}", response=response)
    return read(response.status_code, response.content, len(operations))
