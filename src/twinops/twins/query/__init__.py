"""The twin-graph query language: ADT's query language with any number of JOINs.

``parse_query`` reads text into a checked syntax tree and ``render`` writes it back.
Running a query is the store's job: ``twinops.storage.query`` compiles the tree to one SQL
statement per page and shapes the items as ADT does.
"""

from twinops.twins.query.checks import QueryLimits
from twinops.twins.query.parser import parse_query
from twinops.twins.query.render import render

__all__ = ["QueryLimits", "parse_query", "render"]
