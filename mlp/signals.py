"""Ctrl-C and SIGTERM while training: finish the batch, keep the finished epochs, then stop."""

import os
import signal

from mlp.guarded import say

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
