"""How a run ended, said in one line: a failed blocking check's message, else the
failed step's own error (which names source, file and rule), and which outputs a
failed run had already replaced."""

from dataclasses import dataclass, field

# Our own errors already name the source, file and rule: show their message as it is.
OWN_ERRORS = ("SourceError", "Failure", "WarehouseBusy", "TableSchemaMismatch")


def failure_message(result) -> str:
    """The user-facing cause of the failure, without a traceback: a failed blocking
    check's message, else the first failed step's exception."""
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            message = evaluation.metadata.get("message")
            if not evaluation.passed and evaluation.severity.value == "ERROR" and message is not None:
                return message.value
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            # Down the chain to our own error (which names source, file and rule),
            # else to the root cause.
            while error.cause is not None and error.cls_name not in OWN_ERRORS:
                error = error.cause
            text = error.message.strip().splitlines()[0] if error.message.strip() else error.cls_name
            prefix = f"{error.cls_name}: "
            text = text.split(prefix, 1)[1] if prefix in text else text
            if error.cls_name not in OWN_ERRORS:
                text = f"{error.cls_name}: {text}"
            return f"{text} (step {event.step_key})"
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed:
            return f"check {event.event_specific_data.check_name} failed on {event.event_specific_data.asset_key.to_user_string()}"
    return "the run failed"


@dataclass
class RunOutcome:
    """How a CLI run ended: one Dagster run, or the runs of a Dagster backfill (``--parallel``)."""

    run_id: str | None
    success: bool
    message: str = ""
    stages: list = field(default_factory=list)
    result: object = None

    @classmethod
    def of_stages(cls, stages: list) -> "RunOutcome":
        """The runs of a backfill: it succeeded when every run did, and its summary is
        that of the run that published (attribution/runs)."""
        if not stages:
            return cls(None, False, "the backfill ran no run (see the daemon's log in the Dagster home)", stages=stages)
        failed = next((stage for stage in stages if not stage.success), None)
        if failed is None:
            publisher = next((stage for stage in stages if stage.publishes), stages[-1])
            return cls(publisher.run_id, True, stages=stages)
        return cls(failed.run_id, False, failed.message, stages=stages)

    @classmethod
    def of_result(cls, result) -> "RunOutcome":
        return cls(result.run_id, result.success, "" if result.success else failure_message(result), result=result)

    def replaced(self) -> str:
        """Which outputs the failed run had already replaced, so nobody guesses."""
        if self.stages:
            done = [stage.label for stage in self.stages if stage.success and stage.label.startswith("months")]
            return f"already replaced: {', '.join(done)} (other months untouched)" if done else "previous output tables are untouched"
        published = any(
            e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key.path == ["attribution", "runs"] for e in self.result.all_events
        )
        # The attribution tables are published together by attribution/runs (io_managers.publish).
        return "this run's attribution tables were already published" if published else "previous output tables are untouched"
