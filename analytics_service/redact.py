"""Keep the W&B key out of every log line, whoever logs it."""

from __future__ import annotations

import logging
import traceback

_installed: set[str] = set()


def install_log_redaction(secret: str | None) -> None:
    """Wrap the log record factory so `secret` is replaced in messages and tracebacks."""
    if not secret or secret in _installed:
        return
    _installed.add(secret)
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:
            return record
        if secret in message:
            record.msg, record.args = message.replace(secret, "[redacted]"), None
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info))
            if secret in text:
                record.exc_text = text.replace(secret, "[redacted]").rstrip("\n")
        return record

    logging.setLogRecordFactory(factory)
