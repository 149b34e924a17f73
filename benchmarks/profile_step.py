"""Where a training step's time goes, at each batch size and BLAS thread count.

One step of the documented network (784-256-64-10, sigmoid, softmax, Adam,
float32) split into its parts: the matrix products (forward and backward), the
elementwise work (activations, their derivatives, the loss gradient), and the
optimizer's update. Each part is timed alone over many repetitions, at 1, 2,
4, ... threads taking turns block by block (the median of each count's blocks), for
batches of 32, 128 and 1024 rows. The parts are the step's own operations, so they add
up to about the whole step (the rest is Python's overhead between them). Then the largest
elementwise job (the first hidden layer's sigmoid) is also timed split across
a pool of Python threads (numpy's ufuncs release the GIL), to see whether
spreading it pays on this machine.

    python benchmarks/profile_step.py
"""

import concurrent.futures
import json
import os
import statistics
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from HiddenLayer import sigmoid, sigmoid_backward  # noqa: E402
from mlp.optimizers import optimizer_for  # noqa: E402
from mlp.process import candidate_counts, usable_cores  # noqa: E402
from Model import Model, cross_entropy_gradient, one_hot  # noqa: E402

BLOCKS = 7


def timed_in_turns(function, repeat, counts):
    """{count: median seconds of one call} over BLOCKS blocks of repeat calls, the thread counts
    taking turns block by block, so that a neighbour busy for a while slows every count alike."""
    blocks = {count: [] for count in counts}
    for _ in range(BLOCKS):
        for count in counts:
            with threadpool_limits(limits=count, user_api="blas"):
                function()
                started = time.perf_counter()
                for _ in range(repeat):
                    function()
                blocks[count].append((time.perf_counter() - started) / repeat)
    return {count: statistics.median(values) for count, values in blocks.items()}


def timed(function, repeat):
    """Median seconds of one call over BLOCKS blocks of repeat calls."""
    return timed_in_turns(function, repeat, [None])[None]


def parts(batch_size, rng):
    """{part: callable} for one step of the documented network at batch_size."""
    model = Model(784, [256, 64], 10, rng)
    optimizer = optimizer_for(model, "adam", 0.001)
    X = rng.random((batch_size, 784), dtype=np.float32)
    Y = one_hot(rng.integers(0, 10, batch_size), 10)
    layers = model.layers
    model.forward(X)
    model.backward(Y)
    grads = [np.ones((batch_size, layer.n_outputs), np.float32) for layer in layers]

    def products():  # the step's own: the first layer passes no gradient back to the images
        A = X
        for layer in layers:
            A = A @ layer.weights
        for index, (layer, grad) in enumerate(zip(layers, grads)):
            layer.inputs.T @ grad
            if index:
                grad @ layer.weights.T

    def elementwise():
        for layer in model.hidden_layers:
            sigmoid_backward(grads[0][:, :layer.n_outputs], sigmoid(layer.A))
        cross_entropy_gradient(model.output_layer.probabilities, Y)

    return {"whole step": lambda: (model.forward(X), model.backward(Y), optimizer.step()),
            "matrix products": products, "elementwise": elementwise, "optimizer": optimizer.step}


def split_sigmoid(Z, pool, pieces):
    """sigmoid(Z) computed in pieces row blocks on a thread pool."""
    blocks = np.array_split(Z, pieces)
    return np.concatenate(list(pool.map(sigmoid, blocks)))


def main():
    rng = np.random.default_rng(0)
    counts = candidate_counts(usable_cores())
    report = {}
    print(f"ms per call, {usable_cores()} cores, numpy {np.__version__}\n")
    print("| batch | part | " + " | ".join(f"{c} thread{'s' * (c > 1)}" for c in counts) + " |")
    print("|---|---|" + "---|" * len(counts))
    for batch_size in (32, 128, 1024):
        step_parts = parts(batch_size, rng)
        repeat = max(20, 20000 // batch_size)
        for name, function in step_parts.items():
            row = [seconds * 1e3 for seconds in timed_in_turns(function, repeat, counts).values()]
            report[f"{batch_size}/{name}"] = dict(zip(counts, row))
            print(f"| {batch_size} | {name} | " + " | ".join(f"{ms:.3f}" for ms in row) + " |")
    print("\nThe first hidden layer's sigmoid, one thread against a pool of Python threads:")
    for batch_size in (32, 128, 1024):
        Z = rng.normal(size=(batch_size, 256)).astype(np.float32)
        alone = timed(lambda: sigmoid(Z), 200) * 1e3
        line = [f"batch {batch_size}: alone {alone:.4f} ms"]
        for pieces in counts[1:]:
            with concurrent.futures.ThreadPoolExecutor(pieces) as pool:
                split = timed(lambda: split_sigmoid(Z, pool, pieces), 200) * 1e3
            line.append(f"{pieces} threads {split:.4f} ms")
            report[f"{batch_size}/split sigmoid/{pieces}"] = split
        report[f"{batch_size}/sigmoid alone"] = alone
        print("  " + ", ".join(line))
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w", encoding="utf-8") as stream:
            json.dump(report, stream, indent=2)


if __name__ == "__main__":
    main()
