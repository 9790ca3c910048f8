"""Running twin queries on SQL: the compiler, the dialect differences, and paging."""

from twinops.storage.query.executor import QueryResult, explain, run_query

__all__ = ["QueryResult", "explain", "run_query"]
