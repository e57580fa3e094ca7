"""Errors that end a script with one clear line instead of a traceback
(denoise_kit.quiet prints them)."""

# What an interrupted run (Ctrl-C, SIGTERM) is told; a resumable run replaces it with how it resumes.
START_OVER_HINT = "nothing was lost: run the same command again to start over"
INTERRUPTED_HINT = START_OVER_HINT


class UserError(Exception):
    """Something the user can fix; the message says what to do."""


class DataError(UserError):
    """Missing, corrupt or inconsistent dataset files."""


class ConfigError(UserError):
    """A constant or command-line flag with an unusable value."""


class TrainingDiverged(UserError):
    """The loss became NaN: nothing is saved, the user lowers the learning rate."""
