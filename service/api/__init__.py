"""The HTTP API under /api/v1 (architecture.md, HTTP API): one blueprint, one module per
resource; `health` holds /healthz and /readyz outside the prefix."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.record_once
def _id_converter(state) -> None:
    # Before the blueprint's rules are bound: they use <id:...>.
    from .endpoints import IdConverter

    state.app.url_map.converters.setdefault("id", IdConverter)


from . import jobs, openapi, questions, types  # noqa: E402,F401  (register the routes)
