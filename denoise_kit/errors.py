"""Errors that end a script with one clear line instead of a traceback."""


class UserError(Exception):
    """Something the user can fix; the message says what to do."""


class DataError(UserError):
    """Missing, corrupt or inconsistent dataset files."""


class ConfigError(UserError):
    """A constant or command-line flag with an unusable value."""
