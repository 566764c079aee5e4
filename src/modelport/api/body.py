"""Request bodies and query strings → records or columns, within the size limit."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
import pandas as pd
from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect

from modelport.api.turns import BIG_BODY_BYTES, Turns
from modelport.columns import parse_boolean
from modelport.errors import (
    InvalidInputError,
    PayloadTooLargeError,
    RequestError,
    UnsupportedMediaTypeError,
)

JSON_TYPES = frozenset({"application/json", "text/json"})
CSV_TYPES = frozenset({"text/csv", "application/csv"})
TEMPLATE_KEYS = frozenset({"_data", "_samples"})
MAX_CSV_COLUMNS = 4096
INLINE_PARSE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Payload:
    """What a prediction request holds: rows (records, columns, or the model's input read
    straight from the body), and optional background."""

    records: Any = None
    matrix: Any = None
    columns: dict[str, list[Any]] | None = None
    samples: Any = None
    kind: str = "json"
    prefix: str = ""


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing it as soon as it passes `limit` bytes (chunked too).

    Raises:
        PayloadTooLargeError: declared or actual size over the limit.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the body is {int(declared)} bytes; the limit is {limit}")
    chunks, size = [], 0
    while True:  # the messages themselves: Starlette's stream() is an async generator around them
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_payload(
    request: Request,
    limit: int,
    turns: Turns,
    read_matrix: Callable[[bytes], Any] | None = None,
) -> Payload:
    """Parse a JSON or CSV body into a Payload; no content type is read as JSON. A JSON body
    from `BIG_BODY_BYTES` on is first given to `read_matrix` in a thread (compiled code that
    reads a list of records straight into the model's input, without the GIL); when that
    answers None, or for a CSV body, the body is parsed in a turn of `turns`.

    Raises:
        UnsupportedMediaTypeError: any other content type (a body is never unpickled).
        RequestError: the body can't be parsed.
    """
    header = request.headers.get("content-type", "").split(";")[0].strip().lower()
    media_type = header or "application/json"  # tritonclient and bare clients send none
    if media_type not in JSON_TYPES | CSV_TYPES and not media_type.endswith("+json"):
        hint = (
            " (curl -d sends this: add -H 'Content-Type: application/json')"
            if "form" in media_type
            else ""
        )
        raise UnsupportedMediaTypeError(
            f"content type {media_type!r} is not accepted; send application/json or text/csv{hint}"
        )
    body = await read_body(request, limit)
    if read_matrix is not None and len(body) >= BIG_BODY_BYTES and media_type not in CSV_TYPES:
        matrix = await run_in_threadpool(read_matrix, body)
        if matrix is not None:
            return Payload(matrix=matrix)
    async with turns.when(len(body) >= BIG_BODY_BYTES):
        if media_type in CSV_TYPES:
            return Payload(columns=await run_in_threadpool(parse_csv, body), kind="csv")
        if len(body) > INLINE_PARSE_BYTES:  # a big body is parsed off the event loop
            return split_template(await run_in_threadpool(parse_json, body))
        return split_template(parse_json(body))


def parse_json(body: bytes) -> Any:
    """JSON with orjson (no NaN, bounded depth).

    Raises:
        RequestError: empty or malformed.
    """
    if not body.strip():
        raise RequestError("the body is empty; send a record, a list of records, or columns")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise RequestError(f"the body is not valid JSON: {error}") from None


def split_template(body: Any) -> Payload:
    """The Flask template's `{"_data": ..., "_samples": ...}`, or plain records.

    Raises:
        InvalidInputError: `_data` beside other keys, or `_samples` without `_data`.
    """
    if not isinstance(body, dict) or not (TEMPLATE_KEYS & body.keys()):
        return Payload(records=body)
    others = sorted(set(body) - TEMPLATE_KEYS)
    if others or "_data" not in body:
        detail = (
            f"a body with _data or _samples holds only those two keys (found {', '.join(others)})"
            if others
            else "_samples needs _data beside it"
        )
        raise InvalidInputError.single(detail)
    return Payload(records=body["_data"], samples=body.get("_samples"), prefix="/_data")


def parse_csv(body: bytes) -> dict[str, list[Any]]:
    """A CSV body with a header row → columns (empty cells become null).

    Raises:
        RequestError: not a readable CSV table.
    """
    header = body.split(b"\n", 1)[0]
    if header.count(b",") >= MAX_CSV_COLUMNS:
        raise RequestError(f"the CSV header has more than {MAX_CSV_COLUMNS} columns")
    try:
        # Every cell stays text, so "01234" keeps its zero and "NA" stays a word: the
        # validator converts each column by its feature's type. Only empty cells are missing.
        frame = pd.read_csv(
            io.BytesIO(body),
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=True,
        )
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
        ValueError,
    ) as error:
        raise RequestError(
            f"the body is not a readable CSV table: {str(error).strip()[:200]}"
        ) from None
    frame = frame.astype(object).where(frame.notna(), None)
    return {str(name): frame[name].tolist() for name in frame.columns}


def query_flag(request: Request, name: str) -> bool:
    """A boolean query parameter such as `?proba=1`.

    Raises:
        RequestError: a value that is not a boolean (names the parameter).
    """
    value = _query_params(request.scope["query_string"]).get(name)
    if value is None or not value.strip():
        return False
    flag = parse_boolean(value)
    if flag is not None:
        return flag
    raise RequestError(
        f"query parameter {name} must be 1 or 0 (true or false), not {value[:20]!r}", name
    )


@lru_cache(maxsize=256)
def _query_params(query_string: bytes) -> QueryParams:
    """A query string's parameters, parsed once: clients send the same few (`proba=1`)
    on every request. QueryParams is immutable, so requests can share it."""
    return QueryParams(query_string)
