"""How a command ends badly: the two kinds of error every module raises, and the exit statuses.

A user's mistake (a flag, a file, a folder) is a UserError, and a data, model or checkpoint
file that cannot be used a DataError, its kind: exit status 2, refused before anything of
the user's changed. A run that could not go on (a write failed, standard output went away,
training diverged) is a RunFailed: exit status 1. A signal ends a command with the status a
shell reports for it. Main.py prints the message as its one error line.
"""

import difflib
import signal

EXIT_FAILED = 1         # a run or a write failed (training diverged, a full disk)
EXIT_USAGE = 2          # a bad flag or file, refused before anything of the user's changed
# The exit status of a run stopped by each signal, as a shell reports a process it killed.
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}


class UserError(Exception):
    """Something the user can fix; the message says what. exit_status is what Main exits with."""
    exit_status = EXIT_USAGE


class DataError(UserError):
    """A data, model or checkpoint file that cannot be used; the message names it and says why."""


class RunFailed(UserError):
    """A run that could not go on: a file could not be written (a full disk, a file or folder
    gone read-only), or standard output went away. The message names what and why."""
    exit_status = EXIT_FAILED


def closest(name, candidates):
    """The candidate closest to name (a mistyped flag or column), or None when none is close."""
    close = difflib.get_close_matches(name, [str(candidate) for candidate in candidates], n=1,
                                      cutoff=0.6)
    return close[0] if close else None
