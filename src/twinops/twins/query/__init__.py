"""The twin-graph query language: ADT's query language with any number of JOINs.

``parse_query`` reads text into a checked syntax tree, ``render`` writes it back,
``run_query`` compiles it to one SQL statement per page and shapes items as ADT does,
and ``explain`` shows that SQL.
"""

from twinops.twins.query.checks import QueryLimits
from twinops.twins.query.executor import QueryResult, explain, run_query
from twinops.twins.query.parser import parse_query
from twinops.twins.query.render import render

__all__ = ["QueryLimits", "QueryResult", "explain", "parse_query", "render", "run_query"]
