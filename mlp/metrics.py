"""What a report on a test set holds: loss and accuracy, the confusion matrix, per-class
precision, recall and F1, and how well calibrated the probabilities are."""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from Model import cross_entropy, one_hot


def confusion_matrix(true_labels, predicted_labels, n_classes):
    """Counts C (n_classes, n_classes): C[i, j] rows of true class i predicted as class j."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (true_labels, predicted_labels), 1)
    return counts


def per_class_scores(counts, class_names):
    """Precision, recall, F1 and support of every class from a confusion matrix.

    Precision of class j is the share of rows predicted j that are j; recall
    the share of rows of class j predicted j; F1 their harmonic mean. A ratio
    with nothing to divide by is reported as 0, as scikit-learn does.
    """
    true_positives = np.diag(counts).astype(np.float64)
    predicted = counts.sum(axis=0)
    actual = counts.sum(axis=1)
    scores = {}
    for j, name in enumerate(class_names):
        precision = true_positives[j] / predicted[j] if predicted[j] else 0.0
        recall = true_positives[j] / actual[j] if actual[j] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[name] = {"precision": float(precision), "recall": float(recall), "f1": float(f1),
                        "support": int(actual[j])}
    return scores


CALIBRATION_BINS = 15


def calibration(P, labels, n_bins=CALIBRATION_BINS):
    """How far the model's confidence is from its accuracy, as Guo et al. (2017) measure it.

    The confidence of a row is its largest probability in P (n_samples,
    n_classes); the rows are put into n_bins equal-width bins of confidence,
    ((m - 1) / n_bins, m / n_bins], and the expected calibration error is the
    rows' share of each bin times the gap between the bin's accuracy and its
    mean confidence, summed. Returns {"expected_calibration_error", "bins":
    {"upper", "count", "confidence", "accuracy"} per bin, None where a bin is empty}.
    """
    confidence = P.max(axis=1).astype(np.float64)
    correct = (P.argmax(axis=1) == labels).astype(np.float64)
    which = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    confidence_sums = np.bincount(which, weights=confidence, minlength=n_bins)
    correct_sums = np.bincount(which, weights=correct, minlength=n_bins)
    filled = counts > 0
    mean_confidence = np.divide(confidence_sums, counts, out=np.zeros(n_bins), where=filled)
    accuracy = np.divide(correct_sums, counts, out=np.zeros(n_bins), where=filled)
    error = float(np.sum(counts / len(P) * np.abs(accuracy - mean_confidence)))
    return {"expected_calibration_error": error,
            "bins": {"upper": [(m + 1) / n_bins for m in range(n_bins)],
                     "count": counts.tolist(),
                     "confidence": [float(c) if f else None
                                    for c, f in zip(mean_confidence, filled)],
                     "accuracy": [float(a) if f else None for a, f in zip(accuracy, filled)]}}


# A hidden layer with this share of its activations saturated passes almost no gradient back.
SATURATED = 0.9


def chance_level(labels, n_classes):
    """(the accuracy of always answering the most common class of labels, at least 1 /
    n_classes; the noise around it: two standard errors of an accuracy over len(labels) rows)."""
    level = max(np.bincount(labels, minlength=n_classes).max() / len(labels), 1 / n_classes)
    return float(level), float(max(2 * np.sqrt(level * (1 - level) / len(labels)), 1 / len(labels)))


def chance_verdict(counts, class_names, saturation=None):
    """Whether a model whose test confusion matrix is counts learned nothing: its accuracy within
    noise of chance_level; and why: "saturated" (a hidden layer past SATURATED, a network that
    cannot learn) or "undertrained". The evidence as a dict: accuracy, chance level, noise, the
    class it answers most and for what share of rows, and the hidden layers' saturation at the
    end (saturation: one share per layer, None where it does not apply)."""
    labels = np.repeat(np.arange(len(counts)), counts.sum(axis=1))
    level, noise = chance_level(labels, len(counts))
    accuracy = float(np.trace(counts) / counts.sum())
    answers = counts.sum(axis=0) / counts.sum()
    shares = [share for share in saturation or [] if share is not None]
    stuck = accuracy <= level + noise
    cause = None if not stuck else "saturated" if max(shares, default=0) >= SATURATED \
        else "undertrained"
    return {"stuck": stuck, "cause": cause, "accuracy": accuracy, "chance_level": level,
            "noise": noise, "most_answered": class_names[int(answers.argmax())],
            "most_answered_share": float(answers.max()),
            "saturation": max(shares) if shares else None,
            "saturated_layer": (int(np.argmax([-1 if share is None else share
                                               for share in saturation])) if shares else None)}


@dataclass
class Assessment:
    """A model's report on a test set: its mean loss and accuracy, the confusion matrix
    (n_classes, n_classes), each class's scores (per_class_scores), the expected calibration
    error and the bins it came from (calibration()), and the probabilities (n_samples,
    n_classes) they all come from."""
    loss: float
    accuracy: float
    confusion_matrix: np.ndarray
    per_class: dict
    calibration_error: float
    calibration_bins: dict
    probabilities: np.ndarray
    chance: Optional[dict] = None       # chance_verdict, once the layers' saturation is known

    def record(self):
        """Its part of metrics.json."""
        return {"test_loss": self.loss, "test_accuracy": self.accuracy,
                "expected_calibration_error": self.calibration_error,
                "per_class": self.per_class, "confusion_matrix": self.confusion_matrix.tolist(),
                "calibration": self.calibration_bins,
                **({"stuck_at_chance": self.chance["stuck"], "chance": self.chance}
                   if self.chance else {})}


def assess(model, X, labels, class_names, saturation=None):
    """The Assessment of model on inputs X against integer labels (n_samples,); given the
    hidden layers' saturation at the end of training, with its chance_verdict."""
    P = model.predict_proba(X)
    counts = confusion_matrix(labels, P.argmax(axis=1), len(class_names))
    table = calibration(P, labels)
    return Assessment(loss=cross_entropy(P, one_hot(labels, len(class_names), P.dtype)),
                      accuracy=float(np.trace(counts) / len(labels)), confusion_matrix=counts,
                      per_class=per_class_scores(counts, class_names),
                      calibration_error=table["expected_calibration_error"],
                      calibration_bins=table["bins"], probabilities=P,
                      chance=(chance_verdict(counts, class_names, saturation)
                              if saturation is not None else None))


def gradient_rms(norms, weights_per_layer):
    """Each layer's weight-gradient norm as a root mean square per weight (norm / sqrt(count)):
    layers of different sizes compared on one footing, in the sentence and in the plot."""
    return [norm / np.sqrt(count) for norm, count in zip(norms, weights_per_layer)]
