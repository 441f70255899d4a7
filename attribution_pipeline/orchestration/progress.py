"""Concise live progress for ``attribution run``: one line per step started,
finished or failed, plus the assets' own log lines, instead of Dagster's
verbose console log."""

import logging
import sys
import time

import dagster as dg

_STARTED: dict[str, float] = {}


def _event(record: logging.LogRecord):
    meta = getattr(record, "dagster_meta", None) or {}
    return meta.get("dagster_event"), meta.get("step_key"), meta.get("orig_message", record.getMessage())


class ProgressHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        event, step, message = _event(record)
        stamp = time.strftime("%H:%M:%S")
        if event is None:
            if step and record.levelno >= logging.INFO and not message.startswith("Dependencies for step"):
                print(f"{stamp}   {step}: {message}", file=sys.stderr, flush=True)
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            _STARTED[step] = time.monotonic()
            print(f"{stamp} > {step}", file=sys.stderr, flush=True)
        elif kind == "STEP_SUCCESS":
            elapsed = time.monotonic() - _STARTED.get(step, time.monotonic())
            print(f"{stamp} ok {step} ({elapsed:.1f}s)", file=sys.stderr, flush=True)
        elif kind == "STEP_FAILURE":
            print(f"{stamp} FAILED {step}", file=sys.stderr, flush=True)
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            outcome = "passed" if evaluation.passed else "FAILED" if evaluation.severity.value == "ERROR" else "warns"
            print(f"{stamp}   check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} {outcome}", file=sys.stderr, flush=True)
        elif kind == "STEP_SKIPPED":
            print(f"{stamp} skipped {step}", file=sys.stderr, flush=True)


@dg.logger(description="One line per step for the attribution CLI (stderr).")
def progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.getLogger("attribution.progress")
    logger.handlers = [ProgressHandler()]
    logger.setLevel(logging.DEBUG)  # step events are logged at DEBUG
    logger.propagate = False
    return logger
