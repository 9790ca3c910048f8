"""Structured logs: request and job ids carried by context variables, JSON lines, no secrets.

A request's id (its ``X-Request-ID`` header, or a generated one) and a job's id are set in
context variables while the request or the job is handled; every record logged meanwhile
carries them (threads started by ``run_in_threadpool`` copy the context). Secrets never leave:
bearer credentials, passwords in URLs and the configured secret values are masked in the
message and in tracebacks before a line is written.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import orjson

from twinops.obs import tracing

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "twinops_request_id", default=None
)
JOB_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("twinops_job_id", default=None)

FORMATS = ("auto", "json", "text")
ACCESS_LOGS = ("all", "problems", "off")  # which requests get a line (the access_log setting)
MASK = "***"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
_PATTERNS = (
    # api_key=..., "authorization": "Bearer ...", password: ...
    (
        re.compile(
            r"(?i)((?:api[_-]?key|authorization|password|passwd|secret|token)[\"']?\s*[:=]\s*[\"']?)"
            r"(?:(?:bearer|basic)\s+)?[^\s\"',;&]+"
        ),
        rf"\1{MASK}",
    ),
    # Bearer <credential>, Basic <credential>, in any case.
    (re.compile(r"(?i)\b(bearer|basic)(\s+)(?!\*\*\*)[A-Za-z0-9._~+/=-]+"), rf"\1\2{MASK}"),
    # scheme://user:password@host
    (re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@"), rf"\1{MASK}@"),
)
# Every pattern above needs one of these in the text: one search spares three substitutions
# on the many lines that carry no credential (every request logs one).
_MAY_HOLD_SECRET = re.compile(r"(?i)key|auth|pass|secret|token|bearer|basic|://")
# Attributes every LogRecord has: anything else was passed with ``extra=`` and is logged too.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_HANDLER_NAME = "twinops"


def new_request_id(offered: str | None) -> str:
    """The caller's request id when it is a sane token, else a fresh one."""
    if offered and _REQUEST_ID.match(offered):
        return offered
    return uuid.uuid4().hex


@contextmanager
def job_scope(job_id: str) -> Iterator[None]:
    """Records logged in the block carry ``job_id``."""
    token = JOB_ID.set(job_id)
    try:
        yield
    finally:
        JOB_ID.reset(token)


class Redactor:
    """Masks credentials: known patterns, plus the literal secret values it was given."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        if _MAY_HOLD_SECRET.search(text) is None:
            return text
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``job_id`` and the trace ids to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        record.job_id = JOB_ID.get()
        ids = tracing.trace_ids()
        record.trace_id, record.span_id = ids if ids else (None, None)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ids, extras, exception."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _rfc3339(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        for name in ("request_id", "job_id", "trace_id", "span_id"):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        for key, value in record.__dict__.items():
            if key not in _NOT_EXTRA and key not in entry:
                entry[key] = self._scrub(value)
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = self.redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = self.redact(self.formatStack(record.stack_info))
        try:
            return orjson.dumps(entry, default=self._as_text).decode()
        except orjson.JSONEncodeError:  # e.g. an int beyond 64 bits in an extra
            return json.dumps(entry, default=self._as_text, ensure_ascii=False)

    def _as_text(self, value: Any) -> str:
        return self.redact(str(value))

    def _scrub(self, value: Any) -> Any:
        """``extra=`` values with every string masked (before encoding: escapes stay whole)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {str(k): self._scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._scrub(v) for v in value]
        return value


_CONTEXT_FIELDS = frozenset({"request_id", "job_id", "trace_id", "span_id"})
# Extras some libraries attach that a JSON line does without (uvicorn's ANSI-coloured copy).
_DROPPED = frozenset({"color_message"})
# Chatty below WARNING (alembic announces every plugin at start): quiet unless debugging.
_QUIET = ("alembic", "httpx")
_NOT_EXTRA = _STANDARD | _CONTEXT_FIELDS | _DROPPED


class TextFormatter(logging.Formatter):
    """Human-readable lines with the request or job id, secrets masked."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(ids)s: %(message)s")
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        ids = [
            f"{name}={value}"
            for name in ("request_id", "job_id")
            if (value := getattr(record, name, None)) is not None
        ]
        record.ids = f" [{' '.join(ids)}]" if ids else ""
        return self.redact(super().format(record))


@functools.lru_cache(maxsize=4)
def _second_of(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def _rfc3339(created: float) -> str:
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return f"{_second_of(seconds)}.{millis:03d}Z"


def resolve_format(log_format: str, stream: TextIO) -> str:
    """``auto``: JSON unless the stream is a terminal (a person is reading)."""
    if log_format == "auto":
        isatty = getattr(stream, "isatty", None)
        return "text" if callable(isatty) and isatty() else "json"
    return log_format


def configure(
    log_format: str = "auto",
    level: str = "INFO",
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Log to ``stream`` (stderr) from the root logger in ``log_format``; replaces an earlier
    twinops handler, leaves others alone. Returns the handler."""
    out = stream if stream is not None else sys.stderr
    redact = Redactor(secrets)
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(ContextFilter())
    chosen = resolve_format(log_format, out)
    handler.setFormatter(JsonFormatter(redact) if chosen == "json" else TextFormatter(redact))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
    # uvicorn's loggers hand their records to the root logger (and so to this format); its
    # access log is off: the request middleware logs each request, with its id.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = name != "uvicorn.access"
    return handler
