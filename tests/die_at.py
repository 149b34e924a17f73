"""A wrapper process for the tests: Main.py that dies by SIGKILL at a chosen point.

    python tests/die_at.py checkpoint:EPOCH[:DATASET] MAIN.PY'S FLAGS...
    python tests/die_at.py batch:N MAIN.PY'S FLAGS...

runs Main.py with the flags and kills itself with SIGKILL either when the
checkpoint of epoch EPOCH (of data set DATASET, if given) is due, leaving what
a kill half-way through writing it leaves (the temporary file beside
checkpoint.npz, cut at half the size of the last one), or right after the Nth
training step of the command. The product knows nothing of this: the wrapper
replaces two callbacks' methods from outside.
"""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import Main  # noqa: E402
from mlp import callbacks, checkpoint  # noqa: E402
from mlp.process import run_from_command_line  # noqa: E402


def die_at_checkpoint(epoch, dataset):
    write_checkpoint = checkpoint.Checkpoint.on_epoch_end

    def on_epoch_end(self, run, logs):
        if run.epoch == epoch and dataset in (None, self.dataset.kind):
            whole = open(self.path, "rb").read() if os.path.exists(self.path) else b"PK"
            torn = os.path.join(os.path.dirname(self.path), ".checkpoint.npz-torn.tmp")
            with open(torn, "wb") as stream:
                stream.write(whole[:len(whole) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        return write_checkpoint(self, run, logs)

    checkpoint.Checkpoint.on_epoch_end = on_epoch_end


def die_at_batch(n):
    ask = callbacks.StopOnRequest.on_batch_end
    steps = [0]

    def on_batch_end(self, run, batch_loss):
        steps[0] += 1
        if steps[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return ask(self, run, batch_loss)

    callbacks.StopOnRequest.on_batch_end = on_batch_end


if __name__ == "__main__":
    kind, _, point = sys.argv[1].partition(":")
    if kind == "batch":
        die_at_batch(int(point))
    else:
        epoch, _, dataset = point.partition(":")
        die_at_checkpoint(int(epoch), dataset or None)
    sys.argv = [Main.__file__, *sys.argv[2:]]
    run_from_command_line(Main.main)
