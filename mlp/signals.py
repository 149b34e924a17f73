"""How a command ends: Ctrl-C and SIGTERM while training (finish the batch, keep the finished
epochs, then stop), and every other way out turned into one line and an exit status."""

import contextlib
import os
import signal
import sys

from mlp.files import EXIT_FAILED, say

# The exit status of a run stopped by each signal, as a shell reports a process it killed.
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


class StopFlag:
    """Turns the first SIGINT or SIGTERM into a request to stop after the current batch.

    A second SIGINT ends the program at once. Used as a context manager, it
    handles the signals inside the with block and restores the previous
    handlers after it. Called, it says whether a stop was requested.
    """

    def __init__(self):
        self.signal_number = None
        self._previous = {}

    def __enter__(self):
        self._previous = {number: signal.signal(number, self._handle) for number in EXIT_SIGNAL}
        return self

    def __exit__(self, *exception):
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _handle(self, signal_number, frame):
        if self.signal_number is not None and signal_number == signal.SIGINT:
            say("\nSecond interrupt: quitting now.", error=True)
            os._exit(EXIT_SIGNAL[signal.SIGINT])
        self.signal_number = signal_number
        say(f"\n{signal.Signals(signal_number).name}: stopping after this batch "
            f"(press Ctrl-C again to quit at once)", error=True)

    def __call__(self):
        return self.signal_number is not None

    @property
    def exit_status(self):
        """The exit status the signal that stopped the run calls for."""
        return EXIT_SIGNAL[self.signal_number]


def run_from_command_line(main):
    """main() (it returns the exit status), with every way a run can end turned into one line
    and an exit status: a fault writing a file or standard output (1, through files.say and
    RunFailed), memory running out (1), Ctrl-C outside training (130)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)  # from here, a KeyboardInterrupt
    try:
        status = main()
    except KeyboardInterrupt:
        status = say_and_exit_status("interrupted; every file finished before is kept",
                                     EXIT_SIGNAL[signal.SIGINT])
    except MemoryError:
        status = say_and_exit_status("out of memory (the process's limit or the machine's); "
                                     "expected smaller --hidden_layers or --batch_size",
                                     EXIT_FAILED)
    except OSError as error:  # one mlp.files did not see: named as it is
        status = say_and_exit_status(f"{error.filename or 'a file'}: {error.strerror or error}",
                                     EXIT_FAILED)
    sys.exit(flushed(status))


def flushed(status):
    """status, once what is left for standard output is written. Every line is flushed as it is
    printed, so anything left is from a line that already failed, and was reported then."""
    try:
        if sys.stdout is not None:  # None when the command ran with standard output closed
            sys.stdout.flush()
    except (OSError, ValueError):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more at exit
        return status or EXIT_FAILED
    return status


def say_and_exit_status(message, status):
    """Print Main.py's one error line on standard error, if it is there; return status (what
    is left for standard output is flushed() after)."""
    say(f"Main.py: error: {message}", error=True)
    return status
