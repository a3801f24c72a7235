"""Log output: human text or one JSON object per line. Lines about a ResourceRestart carry its namespace, name
(field `resourcerestart`), uid and the run's restartToken as fields (JSON) or a bracketed suffix (text)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

from pythonjsonlogger.json import JsonFormatter

CR_FIELDS = ("namespace", "resourcerestart", "uid", "token")  # "name" is taken by LogRecord itself


class CrLogger(logging.LoggerAdapter[logging.Logger]):
    """Adds the CR's identity to every record, keeping any extra the call passes."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


def cr_logger(logger: logging.Logger, *, namespace: str, name: str, uid: str, token: str | None) -> CrLogger:
    return CrLogger(logger, {"namespace": namespace, "resourcerestart": name, "uid": uid, "token": token or ""})


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = {f: getattr(record, f) for f in CR_FIELDS if getattr(record, f, None) not in (None, "")}
        if fields:
            text += " [" + " ".join(f"{key}={value}" for key, value in fields.items()) + "]"
        return text


class _JsonFormatter(JsonFormatter):
    """python-json-logger, minus the internals Kopf attaches to its records (its settings object and flags)."""

    _DROP = ("settings", "k8s_skip")

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        for key in self._DROP:
            log_data.pop(key, None)
        return log_data


def json_formatter() -> logging.Formatter:
    return _JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        json_default=str,
        timestamp=False,
    )


def configure_logging(*, level: str = "info", fmt: str = "text", stream: Any = None,
                      library_levels: Mapping[str, int] | None = None) -> None:
    """Replace the root logger's handlers with one that writes `fmt` to stderr (or `stream`)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(json_formatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    # kopf.objects says "Handler ... succeeded" at INFO for every watch event (three per run): noise that cost
    # more than the operator's own lines. Its warnings and errors (a handler that raised) still show.
    quiet = {"httpx": logging.WARNING, "httpcore": logging.WARNING, "aiohttp.access": logging.WARNING,
             "kubernetes": logging.WARNING, "urllib3": logging.WARNING, "kopf.objects": logging.WARNING}
    if level == "debug":
        quiet = {"httpcore": logging.INFO, "urllib3": logging.INFO}
    for name, library_level in {**quiet, **(library_levels or {})}.items():
        logging.getLogger(name).setLevel(library_level)
