"""GET /api/v1/types: the catalog, the same JSON as `bnlab types --json`."""

from __future__ import annotations

from experiments import catalog

from . import bp
from .endpoints import endpoint
from .schemas import QUESTION_TYPES


@endpoint(bp, "GET", "/types", summary="Question types with parameter schemas and presets",
          response=QUESTION_TYPES, auth=False)
def list_types():
    return {"types": [qt.to_json() for qt in catalog.types().values()]}
