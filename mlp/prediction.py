"""Using a saved model: --evaluate on the test split it was trained with, --predict on new rows."""

import os

import numpy as np

from mlp.datasets import (DATASETS, dataset_title, images_to_features, load_dataset,
                          read_feature_rows, read_images)
from mlp.errors import DataError
from mlp.metrics import assess
from mlp.model_file import load_model
from mlp.outputs import PREDICTIONS
from mlp.records import save_text


def use_saved_model(args):
    """--model FILE with --evaluate and/or --predict FILE; returns the exit status."""
    model, details = load_model(args.model)
    if args.evaluate:
        evaluate_saved_model(model, details, args)
    if args.predict:
        predict_with_saved_model(model, details, args)
    return 0


def load_training_data(model, details, args):
    """The data set the saved model was trained on, split as it was then (same seed and split)."""
    options = details["options"]
    rng = np.random.default_rng(options.get("seed", 0))
    validation_split = options.get("validation_split", 0.1)
    name = options.get("dataset")
    data_file = getattr(args, f"{name}_path") if name in DATASETS else args.csv or options.get("source")
    if name not in DATASETS and not (data_file and options.get("target")):
        raise DataError(f"{args.model}: the model does not record the CSV file and class column "
                        f"it was trained on; expected a model.npz that Main.py wrote")
    return load_dataset(name, data_file, options.get("target"), validation_split, rng, model.dtype)


def evaluate_saved_model(model, details, args):
    """Print the saved model's test metrics on the split it was trained with."""
    dataset = load_training_data(model, details, args)
    if dataset.n_features != model.n_features or dataset.class_names != details["class_names"]:
        raise DataError(f"{dataset.source}: its features or classes are not the ones "
                        f"{args.model} was trained on")
    assessment = assess(model, dataset.X_test, dataset.y_test, dataset.class_names)
    print(f"{dataset_title(dataset)}, model {args.model}: test loss {assessment['loss']:.4f}, "
          f"test accuracy {assessment['accuracy']:.4f} on {len(dataset.X_test)} test rows")
    print(f"  expected calibration error "
          f"{assessment['calibration']['expected_calibration_error']:.4f} (the gap between "
          f"confidence and accuracy, {len(assessment['calibration']['bins']['count'])} bins)")
    width = max(len("class"), *(len(name) for name in dataset.class_names))
    print(f"  {'class':<{width}}  precision  recall  f1      support")
    for name, scores in assessment["per_class"].items():
        print(f"  {name:<{width}}  {scores['precision']:.4f}     {scores['recall']:.4f}  "
              f"{scores['f1']:.4f}  {scores['support']}")


def predict_with_saved_model(model, details, args):
    """Write OUTPUT_DIR/predictions.csv: each row's class and class probabilities."""
    options = details["options"]
    if options.get("image_shape"):
        images = read_images(args.predict)
        X = images_to_features(images, model.dtype)
    else:
        features = read_feature_rows(args.predict, options.get("feature_names") or
                                     [f"feature_{i}" for i in range(model.n_features)])
        X = ((features - details["feature_mean"]) / details["feature_scale"]).astype(model.dtype)
    if X.shape[1] != model.n_features:
        raise DataError(f"{args.predict}: {X.shape[1]} features per row; the model takes "
                        f"{model.n_features}")
    P = model.predict_proba(X)
    predicted = P.argmax(axis=1)
    classes = details["class_names"]
    lines = ["row,predicted," + ",".join(f"probability_{name}" for name in classes)]
    for row, (label, probabilities) in enumerate(zip(predicted, P)):
        lines.append(f"{row},{classes[label]}," + ",".join(f"{p:.6g}" for p in probabilities))
    path = os.path.join(args.output_dir, PREDICTIONS)
    os.makedirs(args.output_dir, exist_ok=True)
    save_text("\n".join(lines) + "\n", path)
    counts = np.bincount(predicted, minlength=len(classes))
    print(f"{len(X)} rows of {args.predict} predicted with {args.model}: "
          + ", ".join(f"{name} {count}" for name, count in zip(classes, counts) if count)
          + f"; classes and probabilities in {path}")
