"""`json_response`: every JSON body the API sends, rendered once with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


def json_response(content: Any, status: int = 200) -> Response:
    """Render with orjson, numpy-aware (NaN never gets here: the predictor refuses it)."""
    return Response(
        orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY),
        status,
        media_type="application/json",
    )
