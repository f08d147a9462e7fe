"""JSON log lines on stderr; ``extra={"job_id": ...}`` puts the job id on the line."""

from __future__ import annotations

import json
import logging
import sys
import time

FIELDS = ("job_id", "asset_id", "key_id", "error", "method", "path", "status", "ms")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for field in FIELDS:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(as_json: bool = True, level: int = logging.INFO) -> None:
    root = logging.getLogger("meshforge")
    if any(getattr(h, "_meshforge", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._meshforge = True  # type: ignore[attr-defined]
    if as_json:
        handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
