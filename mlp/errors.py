"""The errors a user can cause: a flag, a file, a folder. Each one is reported in one line
(its message names what is wrong and what was expected) with its exit status, no traceback."""

EXIT_FAILED = 1         # a run or a write failed (training diverged, a full disk)
EXIT_USAGE = 2          # a bad flag or file, refused before anything of the user's changed


class UserError(Exception):
    """Something the user can fix; the message says what. exit_status is what Main exits with."""
    exit_status = EXIT_USAGE


class DataError(UserError):
    """A data, model or checkpoint file that cannot be used; the message names it and says why."""


class RunFailed(UserError):
    """A run that could not go on: a file could not be written (a full disk, a file or folder
    gone read-only), or standard output went away. The message names what and why."""
    exit_status = EXIT_FAILED

