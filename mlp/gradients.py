"""The assignment's backward pass, worked and checked: --explain works its written example (two
inputs, three sigmoid units, a linear output, target 8) with this project's own HiddenLayer,
every value exact beside the assignment's rounded one and a finite difference; --gradient_check
checks every layer's backward pass of a network against central finite differences."""

import numpy as np

from HiddenLayer import HiddenLayer, sigmoid
from mlp.files import say
from mlp.record import network_text
from Model import Model, one_hot

# The assignment's network, each unit's weights bias first, as it writes them.
HIDDEN_ROWS = np.array([[0.01, 0.02, 0.03], [0.03, 0.01, 0.02], [0.02, 0.03, 0.01]])
OUTPUT_WEIGHTS = np.array([0.01, 0.02, 0.03, 0.04])      # v: bias, then one per hidden unit
SAMPLES = np.array([[1.0, 2.0], [1.0, 3.0], [2.0, 2.0]])
TARGET = 8.0
# What the assignment prints, where it prints a number (it rounds every activation to 0.52).
PRINTED_PREDICTIONS = ["0.056", "0.057", "0.057"]
PRINTED_GRAD_V = [None, "-8.262", "-8.262", "-8.262"]
PRINTED_CHAIN_RULE = ["12", "121"]


def assignment_layer():
    """A float64 HiddenLayer holding the assignment's weights: W is the rows' last two
    columns transposed (n_inputs, n_units), b their first column."""
    layer = HiddenLayer(2, 3, np.random.default_rng(0), dtype=np.float64)
    layer.bias[:] = HIDDEN_ROWS[:, 0]
    layer.weights[:] = HIDDEN_ROWS[:, 1:].T
    return layer


def linear_output(A, v):
    """prediction = v0 + v1 a1 + v2 a2 + v3 a3, one per row of A (n_samples, 3)."""
    return v[0] + A @ v[1:]


def squared_loss_gradients(layer, X, y, v):
    """(predictions, dL/dprediction, dL/dv, dL/dW rows bias first) for L = sum_i (y_i - pred_i)^2.

    The output unit's part is written out (it is linear); the hidden layer's part is the
    layer's own backward, fed dL/da = dL/dprediction * v[1:].
    """
    A = layer.forward(X)
    prediction = linear_output(A, v)
    grad_prediction = -2.0 * (y - prediction)
    grad_v = grad_prediction @ np.hstack([np.ones((len(X), 1)), A])
    layer.backward(np.outer(grad_prediction, v[1:]))
    grad_rows = np.hstack([layer.grad_bias[:, None], layer.grad_weights.T])
    return prediction, grad_prediction, grad_v, grad_rows


def numeric_squared_loss_gradients(X, y):
    """dL/dv and dL/dW rows of the same loss by central finite differences, for comparison."""
    rows, v = HIDDEN_ROWS.copy(), OUTPUT_WEIGHTS.copy()

    def loss():
        A = sigmoid(X @ rows[:, 1:].T + rows[:, 0])
        return float(np.sum((y - linear_output(A, v)) ** 2))

    return numerical_gradient(loss, v), numerical_gradient(loss, rows)


def marked(exact, printed):
    """The assignment's printed value, starred when it is further from the exact one than its
    rounding explains (more than half a unit of its last digit)."""
    if printed is None:
        return ""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    off = abs(float(printed) - exact) > 0.5 * 10 ** -decimals + 1e-12
    return printed + (" *" if off else "")


def numbers(values, width=11):
    """Values to six significant digits, trailing zeros kept, in columns."""
    return " ".join(f"{value:>#{width}.6g}" for value in np.ravel(values))


def show_forward(layer):
    say("1. Forward pass, z = W x + b, a = sigmoid(z), prediction = v0 + v . a")
    say(f"   {'x':<8}{'z (scores)':<32}  {'a = sigmoid(z)':<32}  {'prediction':>10}  assignment")
    A = layer.forward(SAMPLES)
    Z = SAMPLES @ layer.weights + layer.bias
    for x, z, a, prediction, printed in zip(SAMPLES, Z, A, linear_output(A, OUTPUT_WEIGHTS),
                                            PRINTED_PREDICTIONS):
        say(f"   {str(x.astype(int).tolist()):<8}{numbers(z, 10)}  {numbers(a, 10)}  "
            f"{prediction:>#10.6g}  {marked(prediction, printed)}")
    say("   The assignment rounds every activation to 0.52 before going on.")


def show_backward(layer):
    x, y = SAMPLES[:1], np.array([TARGET])
    prediction, grad_prediction, grad_v, grad_rows = squared_loss_gradients(layer, x, y,
                                                                            OUTPUT_WEIGHTS)
    numeric_v, numeric_rows = numeric_squared_loss_gradients(x, y)
    say(f"\n2. Backward pass for x = [1, 2], y = {TARGET:g}, L = (y - prediction)^2")
    say(f"   {'quantity':<38}{'exact':>13}{'finite difference':>19}   assignment")
    say(f"   {'dL/dprediction = -2 (y - prediction)':<38}{grad_prediction[0]:>#13.6g}")
    for j in range(4):
        what = "dL/dv0 = dL/dprediction" if j == 0 else f"dL/dv{j} = dL/dprediction * a{j}"
        say(f"   {what:<38}{grad_v[j]:>#13.6g}{numeric_v[j]:>#19.6g}   "
            f"{marked(grad_v[j], PRINTED_GRAD_V[j])}")
    say("   dL/dW, one row per hidden unit j (bias, w_j1, w_j2):")
    say("     dL/dw_ji = dL/dprediction * v_j * a_j (1 - a_j) * x_i  (x_0 = 1 for the bias)")
    for j in range(3):
        say(f"   unit {j + 1} exact        {numbers(grad_rows[j])}")
        say(f"   unit {j + 1} finite diff. {numbers(numeric_rows[j])}")
    say("   (* the assignment's number differs from the exact one by more than its rounding:"
        "\n    with every a rounded to 0.52, all its dL/dv_j read -8.262. One line of its"
        "\n    derivation also writes 0 where it means the third activation a3.)")


def show_batch(layer):
    y = np.full(len(SAMPLES), TARGET)
    _, _, grad_v, grad_rows = squared_loss_gradients(layer, SAMPLES, y, OUTPUT_WEIGHTS)
    single = [squared_loss_gradients(layer, SAMPLES[i:i + 1], y[i:i + 1], OUTPUT_WEIGHTS)
              for i in range(len(SAMPLES))]
    summed_v = sum(s[2] for s in single)
    summed_rows = sum(s[3] for s in single)
    numeric_v, numeric_rows = numeric_squared_loss_gradients(SAMPLES, y)
    say(f"\n3. The batch form over the three samples, L = sum_i (y_i - prediction_i)^2, "
        f"y_i = {TARGET:g}:")
    say("   the layer's vectorised backward on the 3 x 2 batch at once, the sum of the three")
    say("   single-sample gradients, and the finite difference")
    say(f"   dL/dv        batch   {numbers(grad_v)}")
    say(f"                summed  {numbers(summed_v)}")
    say(f"                f.d.    {numbers(numeric_v)}")
    for j in range(3):
        say(f"   dL/dW unit {j + 1} batch   {numbers(grad_rows[j])}")
        say(f"                summed  {numbers(summed_rows[j])}")
        say(f"                f.d.    {numbers(numeric_rows[j])}")
    difference = max(np.abs(grad_v - summed_v).max(), np.abs(grad_rows - summed_rows).max())
    say(f"   largest difference between batch and summed: {difference:.1e}")


def show_sigmoid_output(layer):
    y = np.full(len(SAMPLES), TARGET)
    A = layer.forward(SAMPLES)
    Z_with_bias = np.hstack([np.ones((len(SAMPLES), 1)), A])
    prediction = sigmoid(Z_with_bias @ OUTPUT_WEIGHTS)
    grad_v = ((prediction - y) * prediction * (1 - prediction)) @ Z_with_bias
    v = OUTPUT_WEIGHTS.copy()
    numeric = numerical_gradient(
        lambda: 0.5 * float(np.sum((sigmoid(Z_with_bias @ v) - y) ** 2)), v)
    say("\n4. A sigmoid output unit, E = 1/2 sum_i (prediction_i - y_i)^2 over the three samples:")
    say("   dE/dv = sum_i (prediction_i - y_i) prediction_i (1 - prediction_i) z_i,  "
        "z_i = [1, a_i]")
    say(f"   predictions  {numbers(prediction)}")
    say(f"   dE/dv exact  {numbers(grad_v)}")
    say(f"   finite diff. {numbers(numeric)}")


def show_chain_rule():
    x = 2.0
    G, dG = np.array([x, x * x]), np.array([1.0, 2 * x])
    DF = np.array([[2 * G[0], 2.0], [3.0, 8 * G[1]]])      # F(x, y) = [x^2 + 2y, 3x + 4y^2]
    through = DF @ dG
    direct = np.array([6 * x, 3 + 16 * x ** 3])             # F(G(x)) = [3x^2, 3x + 4x^4]
    step = 1e-5

    def composed(t):
        return np.array([t * t + 2 * t * t, 3 * t + 4 * t ** 4])

    numeric = (composed(x + step) - composed(x - step)) / (2 * step)
    say("\n5. The chain rule: F(x, y) = [x^2 + 2y, 3x + 4y^2], G(x) = [x, x^2], D(F o G)(2)")
    say(f"   DF(G(2)) G'(2)        {numbers(through)}")
    say(f"   d/dx [3x^2, 3x + 4x^4] {numbers(direct)}")
    say(f"   finite difference     {numbers(numeric)}")
    say(f"   assignment            {marked(through[0], PRINTED_CHAIN_RULE[0])}   "
        f"{marked(through[1], PRINTED_CHAIN_RULE[1])}")
    say("   (* it prints 121 for the second entry; 3 + 16 * 2^3 = 131.)")


def explain():
    """Print the worked example; returns the exit status, 0."""
    say("The assignment's written part, computed by this project's HiddenLayer\n"
        "Network: inputs x1, x2 -> three sigmoid hidden units -> one linear output unit\n"
        "  hidden weights, bias first: unit 1 [0.01, 0.02, 0.03], unit 2 [0.03, 0.01, 0.02], "
        "unit 3 [0.02, 0.03, 0.01]\n"
        "  output weights v, bias first: [0.01, 0.02, 0.03, 0.04]\n")
    layer = assignment_layer()
    show_forward(layer)
    show_backward(layer)
    show_batch(layer)
    show_sigmoid_output(layer)
    show_chain_rule()
    return 0


STEP = 1e-5
TOLERANCE = 1e-6


def numerical_gradient(f, array, step=STEP):
    """d f() / d array, entry by entry, by central differences; array is changed and restored."""
    grad = np.zeros_like(array, dtype=np.float64)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + step
        f_plus = f()
        array[index] = original - step
        f_minus = f()
        array[index] = original
        grad[index] = (f_plus - f_minus) / (2 * step)
    return grad


def relative_error(analytic, numeric):
    """||a - n|| / (||a|| + ||n||), the norms taken over the whole array.

    The ratio of norms (Ng's gradient-checking recipe) rather than the largest
    entrywise ratio: an entry whose gradient is a million times smaller than
    its neighbours' would otherwise be judged on the rounding noise of the
    loss alone, about 1e-11 here. A wrong backward pass shows up as an error
    near 1e-2 or larger; a right one stays below 1e-7.
    """
    denominator = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    if denominator == 0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric) / denominator)


def check_model(model, X, Y, dropout_seed=0):
    """Relative error of each layer's dLoss/dW and dLoss/db through the whole model.

    A model with dropout is checked in training mode, its masks held fixed:
    every forward pass draws them from a new generator seeded with
    dropout_seed, so the function differentiated is the same each time.
    Returns a list of (layer name, largest relative error over its W and b),
    input layer first, named by Model.layer_names.
    """
    def masks():
        return np.random.default_rng(dropout_seed) if model.dropout else None

    model.forward(X, masks())
    model.backward(Y)
    analytic = [g.copy() for g in model.gradients()]

    def f():
        return model.loss(X, Y, masks())

    errors = [relative_error(a, numerical_gradient(f, p))
              for a, p in zip(analytic, model.parameters())]
    return [(name, max(errors[2 * i], errors[2 * i + 1]))
            for i, name in enumerate(model.layer_names())]


def random_problem(n_features, hidden_sizes, n_classes, rng, n_samples=7, activation="sigmoid",
                   dropout=0.0):
    """A float64 Model with random inputs (n_samples, n_features) and one-hot targets."""
    model = Model(n_features, hidden_sizes, n_classes, rng, dtype=np.float64, activation=activation,
                  dropout=dropout)
    X = rng.normal(size=(n_samples, n_features))
    Y = one_hot(rng.integers(0, n_classes, size=n_samples), n_classes, np.float64)
    return model, X, Y


def gradient_check(hidden_sizes, activation, seed, dropout=0.0, n_features=5, n_classes=3,
                   n_samples=8):
    """Print each layer's largest relative error against finite differences; return 0 if all
    pass, else 1."""
    rng = np.random.default_rng(seed)
    model, X, Y = random_problem(n_features, hidden_sizes, n_classes, rng, n_samples, activation,
                                 dropout)
    widths = [n_features, *hidden_sizes, n_classes]
    network = network_text(n_features, hidden_sizes, n_classes)
    with_dropout = f" with dropout {dropout:g} (masks held fixed)" if dropout else ""
    say(f"Gradient check of a {network} {activation} network{with_dropout} in float64 on "
        f"{n_samples} random rows: backward pass against central finite differences")
    errors = check_model(model, X, Y, dropout_seed=seed)
    for (name, error), n_in, n_out in zip(errors, widths, widths[1:]):
        verdict = "ok" if error < TOLERANCE else "FAILED"
        say(f"  {name:<16} ({n_in:>3} -> {n_out:<3})  largest relative error {error:.2e}  "
            f"{verdict}")
    passed = all(error < TOLERANCE for _, error in errors)
    say("All layers agree with finite differences." if passed else
        f"Some layers differ from finite differences by more than {TOLERANCE:g}.")
    return 0 if passed else 1
