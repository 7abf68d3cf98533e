"""Run long work off the GUI thread, and hear about it through signals.

A `Task` wraps one job: a function that takes the task itself, so it can report
progress (`task.report(item)`) and notice a cancel (`task.cancelled`). The job
runs on its own QThread; the task's signals are delivered on the GUI thread,
so slots can touch widgets.

    task = Task(lambda t: assistant.route(question))
    task.result.connect(show_route)
    task.failed.connect(window.notify)
    task.start()
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from ..errors import HouseholdError

logger = logging.getLogger(__name__)

# Tasks still running; holding them stops Python from collecting a task (and its
# thread) while the job is in flight.
_RUNNING: set[Task] = set()


class _Thread(QThread):
    def __init__(self, task: Task):
        super().__init__()
        self._task = task

    def run(self) -> None:  # Qt's override
        self._task._run()


class Task(QObject):
    """One job on a worker thread.

    Signals:
        progress(object): whatever the job passes to `report`.
        result(object): the job's return value, if it finished.
        failed(str): the message of the error that ended it.
        cancelled(): the job stopped because `cancel` was called.
        finished(): always last, whatever happened.
    """

    progress = Signal(object)
    result = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, job: Callable[[Task], Any], parent: QObject | None = None):
        super().__init__(parent)
        self._job = job
        self._stop = threading.Event()
        self._thread = _Thread(self)
        self._thread.finished.connect(self._cleanup)

    @property
    def is_cancelled(self) -> bool:
        return self._stop.is_set()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def start(self) -> Task:
        _RUNNING.add(self)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the job to stop at its next check; it is never killed mid-step."""
        self._stop.set()

    def report(self, item: Any) -> None:
        self.progress.emit(item)

    def wait(self, ms: int = 30_000) -> bool:
        """Block until the thread ends (for shutdown and tests)."""
        return self._thread.wait(ms)

    def _run(self) -> None:
        try:
            value = self._job(self)
        except HouseholdError as exc:
            logger.info("Task ended with an error: %s", exc)
            self.failed.emit(str(exc))
        except Exception as exc:  # a bug: keep the app alive, keep the traceback
            logger.exception("Task failed unexpectedly")
            self.failed.emit(
                f"Something went wrong ({type(exc).__name__}: {exc}). The details "
                "are in the log file in the data folder."
            )
        else:
            if self._stop.is_set():
                self.cancelled.emit()
            else:
                self.result.emit(value)
        self.finished.emit()

    def _cleanup(self) -> None:
        _RUNNING.discard(self)


def iterate(items: Callable[[], Iterable[Any]]) -> Callable[[Task], list[Any]]:
    """A job that reports each item a generator yields, stopping on cancel.

    The job's result is the list of items it saw. A generator that is stopped
    early is closed, so its `finally` blocks run on the worker thread.
    """

    def job(task: Task) -> list[Any]:
        seen: list[Any] = []
        iterator = iter(items())
        try:
            for item in iterator:
                seen.append(item)
                task.report(item)
                if task.is_cancelled:
                    break
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        return seen

    return job


def running_tasks() -> list[Task]:
    return list(_RUNNING)


def stop_all(ms: int = 10_000) -> None:
    """Cancel every running task and wait for each (at quit)."""
    for task in running_tasks():
        task.cancel()
    for task in running_tasks():
        task.wait(ms)


class MainThreadCollector(QObject):
    """Runs Python's cycle collector on the GUI thread, and only there.

    Left to itself, the collector runs in whichever thread happens to allocate
    when a threshold is crossed, often a worker. If the garbage holds a widget
    (a closed dialog, a cleared answer), Qt then destroys it off the GUI thread
    and the app crashes. While this object lives, automatic collection is off
    and a timer collects the generations that are due.
    """

    def __init__(self, parent: QObject, interval_ms: int = 500):
        super().__init__(parent)
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start(interval_ms)
        self.destroyed.connect(gc.enable)

    def collect_due(self) -> None:
        counts, thresholds = gc.get_count(), gc.get_threshold()
        if counts[0] <= thresholds[0]:
            return
        generation = 0
        if counts[1] > thresholds[1]:
            generation = 2 if counts[2] > thresholds[2] else 1
        gc.collect(generation)

    def stop(self) -> None:
        """Hand collection back to Python."""
        self._timer.stop()
        gc.enable()
