"""One `household-assistant train --progress json` run in a child process.

A child process, not a thread: training holds the GPU and gigabytes of memory,
and a crash in it must not take the window along. Cancel sends SIGTERM, which
the command turns into a clean stop between two steps that changes nothing.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

import household_assistant

from ..training_overview import parse_progress

logger = logging.getLogger(__name__)

STDERR_TAIL_CHARS = 1500
KILL_AFTER_MS = 30_000  # a cancelled run still going after this is killed


class TrainingRun(QObject):
    """Runs the train command and turns its output into signals.

    Signals:
        event(dict): each progress event, as the command printed it.
        ended(str, str): how the run ended and what to say about it: ("done",
            ""), ("cancelled", message), ("error", the command's message) or
            ("crashed", what happened and the end of its stderr).
    """

    event = Signal(dict)
    ended = Signal(str, str)

    def __init__(self, home: Path, args: list[str], parent: QObject | None = None):
        super().__init__(parent)
        self.home = home
        self.args = ["-m", "household_assistant", "train", "--progress", "json", *args]
        self.events: list[dict] = []
        self.done: dict | None = None
        self.stderr_tail = ""
        self._stdout = b""
        self._stopped = ""
        self._cancel_requested = False
        self._process = QProcess(self)
        self._process.readyReadStandardOutput.connect(self._read_stdout)
        self._process.readyReadStandardError.connect(self._read_stderr)
        self._process.finished.connect(self._finished)
        self._process.errorOccurred.connect(self._error)

    def start(self) -> None:
        self._process.setProgram(sys.executable)
        self._process.setArguments(self.args)
        self._process.setProcessEnvironment(self._environment())
        logger.info("Starting training: %s %s", sys.executable, " ".join(self.args))
        self._process.start()

    def _environment(self) -> QProcessEnvironment:
        # The child must use this data folder and these model settings, and
        # import this package even where it is not installed.
        env = QProcessEnvironment.systemEnvironment()
        env.insert("HOUSEHOLD_ASSISTANT_HOME", str(self.home))
        env.insert("PYTHONUNBUFFERED", "1")
        root = str(Path(household_assistant.__file__).resolve().parent.parent)
        path = env.value("PYTHONPATH", "")
        env.insert("PYTHONPATH", root + (f":{path}" if path else ""))
        return env

    def is_running(self) -> bool:
        return self._process.state() != QProcess.ProcessState.NotRunning

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested

    def cancel(self) -> None:
        """Ask the run to stop after its current step (SIGTERM)."""
        if not self.is_running():
            return
        self._cancel_requested = True
        self._process.terminate()
        QTimer.singleShot(KILL_AFTER_MS, self._kill)

    def _kill(self) -> None:
        if self.is_running():
            logger.warning("Training did not stop after SIGTERM; killing it")
            self._process.kill()

    def stop_and_wait(self, ms: int = 15_000) -> None:
        """Cancel and block until the child is gone (at quit)."""
        if not self.is_running():
            return
        self._cancel_requested = True
        self._process.terminate()
        if not self._process.waitForFinished(ms):
            self._process.kill()
            self._process.waitForFinished(5_000)

    # --- output ---------------------------------------------------------------

    def _read_stdout(self) -> None:
        # Split on bytes, so a character cut between two reads stays whole.
        self._stdout += bytes(self._process.readAllStandardOutput())
        *lines, self._stdout = self._stdout.split(b"\n")
        for line in lines:
            self._line(line)

    def _line(self, raw: bytes) -> None:
        event = parse_progress(raw.decode("utf-8", errors="replace"))
        if event is None:
            return
        self.events.append(event)
        if event["event"] == "done":
            self.done = event
        elif event["event"] in ("cancelled", "error"):
            self._stopped = str(event.get("message", ""))
        self.event.emit(event)

    def _read_stderr(self) -> None:
        text = bytes(self._process.readAllStandardError()).decode("utf-8", "replace")
        self.stderr_tail = (self.stderr_tail + text)[-STDERR_TAIL_CHARS:]

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.ended.emit(
                "crashed",
                f"Training could not start with {sys.executable} "
                f"({self._process.errorString()}). Check that the app's Python "
                "environment is intact.",
            )

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read_stdout()
        if self._stdout.strip():
            self._line(self._stdout)
        self._stdout = b""
        self._read_stderr()
        logger.info("Training process ended: exit %s (%s)", code, status.name)

        if self.done is not None:
            self.ended.emit("done", "")
        elif self._cancel_requested or code == 130:
            self.ended.emit("cancelled", self._stopped)
        elif self._stopped:
            self.ended.emit("error", self._stopped)
        else:
            self.ended.emit("crashed", self._crash_text(code, status))

    def _crash_text(self, code: int, status: QProcess.ExitStatus) -> str:
        how = (
            "crashed"
            if status == QProcess.ExitStatus.CrashExit
            else f"stopped with exit code {code}"
        )
        tail = self.stderr_tail.strip() or "(it printed nothing)"
        return (
            f"Training {how} before it finished, so nothing was changed. Its "
            f"last output was:\n{tail}\nThe full log is in the data folder."
        )
