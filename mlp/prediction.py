"""Using a saved model: --evaluate on the test split it was trained with, --predict on new rows."""

import csv
import io
import os

import numpy as np

from mlp.datasets import DATASETS, image_features, load_dataset, read_feature_rows
from mlp.errors import DataError
from mlp.metrics import assess
from mlp.model_file import load_model
from mlp.outputs import PREDICTIONS
from mlp.guarded import make_folder, save_text, say
from mlp.run_record import (CSV, UNVERIFIED, DataSource, check_loaded, data_file_flag,
                            data_file_to_reuse)


def use_saved_model(args):
    """--model FILE with --evaluate and/or --predict FILE; returns the exit status."""
    model, details = load_model(args.model)
    if args.evaluate:
        evaluate_saved_model(model, details, args)
    if args.predict:
        predict_with_saved_model(model, details, args)
    return 0


def trained_kind(options):
    """The kind of data set a saved model was trained on ("mnist", "iris", "csv"). Models saved
    before kinds were recorded named a CSV after its file, and recorded its class column."""
    data = options.get("data")
    if isinstance(data, dict) and data.get("kind") in (*DATASETS, CSV):
        return data["kind"]
    return CSV if options.get("target") is not None or options.get("dataset") not in DATASETS \
        else options["dataset"]


def load_training_data(model, details, args):
    """The data set the saved model was trained on, split as it was then (same seed and split).

    It reads the file the model records, or the one the data set's flag names;
    either way the file must hold the very bytes the model was trained on.
    """
    options = details["options"]
    kind = trained_kind(options)
    flag = data_file_flag(kind)
    others = sorted(args.given_flags & {data_file_flag(other) for other in (*DATASETS, CSV)}
                    - {flag, "--target"})
    if others:
        raise DataError(f"argument {others[0]}: does nothing: the model {args.model} was trained "
                        f"on {kind} (its data file flag is {flag})")
    given = getattr(args, flag[2:]) if flag in args.given_flags else None
    recorded = DataSource.from_record(options.get("data"))
    whose = f"the model {args.model}"
    if recorded is not None:
        data_file = data_file_to_reuse(recorded, given, flag, whose)
    else:
        data_file = given or (getattr(args, flag[2:]) if kind != CSV else options.get("source"))
        if kind == CSV and not (data_file and options.get("target")):
            raise DataError(f"{args.model}: the model does not record the CSV file and class "
                            f"column it was trained on; expected a model.npz that Main.py wrote")
        say(UNVERIFIED.format(whose=whose, path=data_file or "the default file"), error=True)
    dataset = load_dataset(kind, data_file, options.get("target"),
                           options.get("validation_split", 0.1), options.get("seed", 0),
                           model.dtype)
    if recorded is not None:
        check_loaded(recorded, dataset.data, whose)
    return dataset


def evaluate_saved_model(model, details, args):
    """Print the saved model's test metrics on the split it was trained with."""
    dataset = load_training_data(model, details, args)
    if dataset.n_features != model.n_features or dataset.class_names != details["class_names"]:
        raise DataError(f"{dataset.source}: its features or classes are not the ones "
                        f"{args.model} was trained on")
    assessment = assess(model, dataset.X_test, dataset.y_test, dataset.class_names)
    say(f"{dataset.title}, model {args.model}: test loss {assessment.loss:.4f}, "
        f"test accuracy {assessment.accuracy:.4f} on {len(dataset.X_test)} test rows")
    say(f"  expected calibration error "
        f"{assessment.calibration_error:.4f} (the gap between "
        f"confidence and accuracy, {len(assessment.calibration_bins['count'])} bins)")
    width = max(len("class"), *(len(name) for name in dataset.class_names))
    say(f"  {'class':<{width}}  precision  recall  f1      support")
    for name, scores in assessment.per_class.items():
        say(f"  {name:<{width}}  {scores['precision']:.4f}     {scores['recall']:.4f}  "
            f"{scores['f1']:.4f}  {scores['support']}")


def predict_with_saved_model(model, details, args):
    """Write OUTPUT_DIR/predictions.csv: each row's class and class probabilities."""
    options = details["options"]
    if options.get("image_shape") or trained_kind(options) == "mnist":
        X = image_features(args.predict, model.dtype)
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
    path = os.path.join(args.output_dir, PREDICTIONS)
    make_folder(args.output_dir)
    save_text(predictions_csv(classes, predicted, P), path)
    counts = np.bincount(predicted, minlength=len(classes))
    say(f"{len(X)} rows of {args.predict} predicted with {args.model}: "
        + ", ".join(f"{name} {count}" for name, count in zip(classes, counts) if count)
        + f"; classes and probabilities in {path}")


def predictions_csv(classes, predicted, P):
    """predictions.csv's text: row, predicted class, each class's probability; class names
    with commas, quotes or line breaks quoted as CSV quotes them."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["row", "predicted", *(f"probability_{name}" for name in classes)])
    for row, (label, probabilities) in enumerate(zip(predicted, P)):
        writer.writerow([row, classes[label], *(f"{p:.6g}" for p in probabilities)])
    return text.getvalue()
