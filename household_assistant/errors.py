"""The exceptions a user can act on.

Every failure the CLI or the GUI shows to a person is one of these. Each message
says what was expected, what was found, and what to do about it.
"""

from __future__ import annotations


class HouseholdError(Exception):
    """Base class for errors that are shown to the user without a traceback."""

    exit_code = 1


class ConfigError(HouseholdError):
    """The settings file or an environment variable holds a value we can't use."""


class ModelNotAvailable(HouseholdError):
    """A model is not on disk and cannot be downloaded right now."""

    exit_code = 3


class ModelLoadError(HouseholdError):
    """A model folder exists but could not be loaded."""

    exit_code = 3


class CategoryError(HouseholdError):
    """An unknown category name, or an invalid new or renamed category."""


class StoreError(HouseholdError):
    """The notes store could not be opened or reached."""

    exit_code = 4


class NoteNotFound(HouseholdError):
    """No note with the given id or source is stored."""


class SkipFile(HouseholdError):
    """A file that is deliberately not imported (wrong type, empty, too large)."""


class ReadFailed(HouseholdError):
    """A file that should be importable but could not be read."""


class FeedbackError(HouseholdError):
    """The feedback store can't be used, or feedback names an unknown question."""


class AdapterError(HouseholdError):
    """An adapter version is unknown, damaged, or can't be activated."""

    exit_code = 5


class TrainingError(HouseholdError):
    """A training run could not start or finish."""

    exit_code = 6


class TrainingCancelled(TrainingError):
    """The user cancelled a training run; nothing was changed."""

    exit_code = 130
