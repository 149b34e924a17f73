"""--augment: shifts move the pixels as stated, nothing wraps around, only training images
change."""

import json

import numpy as np
import pytest

from helpers import assert_one_line_error, make_mnist_like, png_size, run_in_process, words
from mlp.callbacks import Augment, shift_block
from mlp.optimizers import optimizer_for
from Model import Model, TrainingRun, one_hot

IMAGE = np.arange(1, 26, dtype=np.float32).reshape(1, 5, 5)   # 1..25, row by row


def shifted(dy, dx):
    return shift_block(IMAGE, np.full_like(IMAGE, -1), dy, dx)[0]


def test_a_shift_by_hand():
    np.testing.assert_array_equal(shifted(1, 2), [[0, 0, 0, 0, 0],
                                                  [0, 0, 1, 2, 3],
                                                  [0, 0, 6, 7, 8],
                                                  [0, 0, 11, 12, 13],
                                                  [0, 0, 16, 17, 18]])
    np.testing.assert_array_equal(shifted(-2, -1), [[12, 13, 14, 15, 0],
                                                    [17, 18, 19, 20, 0],
                                                    [22, 23, 24, 25, 0],
                                                    [0, 0, 0, 0, 0],
                                                    [0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(shifted(0, 0), IMAGE[0])
    assert not shifted(5, 0).any() and not shifted(0, -7).any()   # moved out entirely


@pytest.mark.parametrize("dy, dx", [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)])
def test_nothing_wraps_around(dy, dx):
    out = shifted(dy, dx)
    # Every pixel that remains is the original one, dy rows down and dx columns right; the rest is
    # 0.
    for (row, column), value in np.ndenumerate(out):
        source_row, source_column = row - dy, column - dx
        inside = 0 <= source_row < 5 and 0 <= source_column < 5
        assert value == (IMAGE[0, source_row, source_column] if inside else 0)


def augment_epoch(seed, n=3000):
    rng = np.random.default_rng(7)
    X = rng.random((n, 64), dtype=np.float32)
    labels = rng.integers(0, 10, n)
    run = TrainingRun(None, None, np.random.default_rng(seed), 1, 32, X_epoch=X.copy(),
                      Y_epoch=one_hot(labels, 10), labels_epoch=labels.copy())
    Augment((8, 8), 2).on_epoch_begin(run)
    return X, labels, run


def test_every_image_gets_its_own_shift_and_keeps_its_label():
    X, labels, run = augment_epoch(seed=0)
    images = X.reshape(-1, 8, 8)
    # Find each output image among the shifted copies of the inputs: its label must follow it,
    # and the 25 shifts must each be used about equally (3000 / 25 = 120 each).
    used = {}
    lookup = {}
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            copies = shift_block(images, np.empty_like(images), dy, dx).reshape(len(X), -1)
            for index, row in enumerate(copies):
                lookup[row.tobytes()] = (index, (dy, dx))
    for row, label, one_hot_row in zip(run.X_epoch, run.labels_epoch, run.Y_epoch):
        index, shift = lookup[row.tobytes()]
        assert labels[index] == label and one_hot_row.argmax() == label
        used[shift] = used.get(shift, 0) + 1
    assert len(used) == 25 and min(used.values()) > 70 and max(used.values()) < 180
    # Consecutive rows (a batch) mix shifts: the first 32 use many different ones.
    first_batch = {lookup[row.tobytes()][1] for row in run.X_epoch[:32]}
    assert len(first_batch) > 10


def test_the_same_seed_gives_the_same_images():
    _, _, first = augment_epoch(seed=3)
    _, _, again = augment_epoch(seed=3)
    _, _, other = augment_epoch(seed=4)
    assert np.array_equal(first.X_epoch, again.X_epoch)
    assert np.array_equal(first.labels_epoch, again.labels_epoch)
    assert not np.array_equal(first.X_epoch, other.X_epoch)


def test_validation_and_test_images_are_never_changed():
    rng = np.random.default_rng(0)
    X = rng.random((200, 64), dtype=np.float32)
    Y = one_hot(rng.integers(0, 3, 200), 3)
    X_val, Y_val = X[:50].copy(), Y[:50].copy()
    before = X.copy(), X_val.copy()
    model = Model(64, [8], 3, rng)
    model.fit(X, Y, X_val, Y_val, epochs=2, batch_size=16, rng=rng,
              optimizer=optimizer_for(model, "adam", 0.01), callbacks=[Augment((8, 8), 2)])
    assert np.array_equal(X, before[0]) and np.array_equal(X_val, before[1])


@pytest.mark.parametrize("argv, flag", [
    (["--datasets", "iris", "--augment"], "argument --augment"),
    (["--augment_pixels", "0"], "argument --augment_pixels"),
    (["--augment_pixels", "14"], "argument --augment_pixels"),
    (["--augment_pixels", "1.5"], "argument --augment_pixels"),
])
def test_bad_augment_flags(capsys, tmp_path, argv, flag):
    result = run_in_process(capsys, *argv, "--mnist_path", tmp_path / "absent.npz", "--output_dir",
                            tmp_path)
    assert_one_line_error(result, flag)


def test_augment_on_a_csv_is_refused(capsys, tmp_path):
    (tmp_path / "t.csv").write_text("a,y\n1,p\n")
    result = run_in_process(capsys, "--csv", tmp_path / "t.csv", "--target", "y", "--augment",
                            "--output_dir", tmp_path)
    assert_one_line_error(result, "argument --augment", "has no images to move")


@pytest.mark.slow
def test_an_augmented_run(capsys, tmp_path):
    data = make_mnist_like(tmp_path / "mnist.npz", n_train=600, n_test=100)
    result = run_in_process(capsys, "--datasets", "mnist", "iris", "--mnist_path", data, "--epochs",
                            "2",
                            "--hidden_layers", "[16]", "--augment", "--output_dir", tmp_path)
    assert result.returncode == 0, result.stderr
    # MNIST's default, chosen on validation
    assert "augmented by shifts up to 1" in words(result.stdout)
    mnist = json.loads((tmp_path / "mnist" / "metrics.json").read_text())
    iris = json.loads((tmp_path / "iris" / "metrics.json").read_text())
    assert (mnist["augment"] is True and mnist["augment_pixels"] == 1
            and mnist["augment_seconds"] > 0)
    assert iris["augment"] is False and iris["augment_pixels"] is None   # Iris is unaffected
    png_size(tmp_path / "mnist" / "augmented.png")
    assert not (tmp_path / "iris" / "augmented.png").exists()
