"""Hooks into the training loop, in the manner of Keras's Callback: what happens between steps.

Model.fit calls each callback it is given at four moments. A callback defines
only the methods it needs:

    on_train_begin(run)              before the first epoch
    on_batch_end(run, batch_loss)    after every optimizer step
    on_epoch_end(run, logs)          after every finished, evaluated epoch
    on_train_end(run)                after the last epoch, however training ended

run is the TrainingRun (the model, optimizer, generator, epoch and result so
far); logs holds the epoch's train_loss, train_accuracy, val_loss,
val_accuracy, learning_rate and seconds. on_batch_end and on_epoch_end may
return a reason, a short word such as "interrupted", to stop training; it
becomes the result's "status". Stopped from on_batch_end, the unfinished epoch
is abandoned and left out of the history; stopped from on_epoch_end, the epoch
just finished is kept. A new between-epochs job is a class here (or anywhere),
passed to fit: nothing in the loop changes.
"""

import sys
from dataclasses import dataclass, field


@dataclass
class TrainingRun:
    """What a callback can see of the training in progress."""
    model: object
    optimizer: object
    rng: object
    epochs: int
    batch_size: int
    result: dict = field(default_factory=dict)
    epoch: int = 0


class Callback:
    """The base: every hook does nothing and asks nothing."""

    def on_train_begin(self, run):
        pass

    def on_batch_end(self, run, batch_loss):
        return None

    def on_epoch_end(self, run, logs):
        return None

    def on_train_end(self, run):
        pass


def overrides(callback, hook):
    """Whether callback defines hook itself, so the loop need not call a no-op every batch."""
    return getattr(type(callback), hook) is not getattr(Callback, hook)


class PrintProgress(Callback):
    """One line per epoch: its losses, accuracies, learning rate and seconds."""

    def __init__(self, stream=None):
        self.stream = stream

    def on_epoch_end(self, run, logs):
        width = len(str(run.epochs))
        print(f"  epoch {run.epoch:{width}d}/{run.epochs}  loss {logs['train_loss']:.4f}  "
              f"accuracy {logs['train_accuracy']:.4f}  val_loss {logs['val_loss']:.4f}  "
              f"val_accuracy {logs['val_accuracy']:.4f}  lr {logs['learning_rate']:.2e}  "
              f"{logs['seconds']:.3g} s", file=self.stream or sys.stdout, flush=True)


class StopOnRequest(Callback):
    """Ends training after the current batch once requested() is true (a signal arrived, say)."""

    def __init__(self, requested):
        self.requested = requested

    def on_batch_end(self, run, batch_loss):
        return "interrupted" if self.requested() else None
