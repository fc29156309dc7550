"""The catalog of question types with how many jobs ran and failed, and median run times."""

from __future__ import annotations

from flask import render_template

from experiments import catalog
from experiments.params import PRESETS

from ...db import get_session
from .. import bp
from ..queries import TypeStats, type_stats


@bp.get("/types")
def types():
    stats = type_stats(get_session())
    rows = [(qt, stats.get(qt.id, TypeStats())) for qt in catalog.types().values()]
    return render_template("dashboard/types.html", rows=rows, presets=PRESETS)
