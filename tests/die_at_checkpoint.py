"""A wrapper process for the tests: Main.py that dies by SIGKILL while writing a checkpoint.

    python tests/die_at_checkpoint.py EPOCH[:DATASET] MAIN.PY'S FLAGS...

runs Main.py with the flags, and when the checkpoint of epoch EPOCH (of data set
DATASET, if given) is due, leaves what a kill half-way through writing it
leaves (the temporary file beside checkpoint.npz, cut at half the size of the
last one) and kills itself with SIGKILL. The product knows nothing of this: the
wrapper replaces Checkpoint.on_epoch_end from outside.
"""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import Main  # noqa: E402
from mlp import checkpoint  # noqa: E402


def die_at(epoch, dataset):
    write_checkpoint = checkpoint.Checkpoint.on_epoch_end

    def on_epoch_end(self, run, logs):
        if run.epoch == epoch and dataset in (None, self.settings.get("dataset")):
            whole = open(self.path, "rb").read() if os.path.exists(self.path) else b"PK"
            torn = os.path.join(os.path.dirname(self.path), ".checkpoint.npz-torn.tmp")
            with open(torn, "wb") as stream:
                stream.write(whole[:len(whole) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        return write_checkpoint(self, run, logs)

    checkpoint.Checkpoint.on_epoch_end = on_epoch_end


if __name__ == "__main__":
    epoch, _, dataset = sys.argv[1].partition(":")
    die_at(int(epoch), dataset or None)
    sys.argv = [Main.__file__, *sys.argv[2:]]
    Main.run_from_command_line()
