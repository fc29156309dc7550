"""The router: free text (plain, Markdown or Discourse HTML) -> the questions it asks.

    >>> from service.router import route
    >>> [a.type for a in route("BN before or after ReLU?").asks]
    ['activation_order']

See route.py for how a post is cut and placed, patterns.py for what each type listens for,
context_patterns.py for the signs that a post is off topic or about normalization at all, and
params.py for which stated settings are read.
"""

from .route import THRESHOLD, route
from .routing import Ask, NotUnderstood, RouterInputError, Routing

__all__ = ["THRESHOLD", "Ask", "NotUnderstood", "RouterInputError", "Routing", "route"]
