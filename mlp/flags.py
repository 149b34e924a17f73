"""The command line's flags, built from the project's tables, and every check of their values.

A bad value ends the program in one line that names the flag and says what was
expected, with exit status 2, before any data is read.
"""

import argparse
import difflib
import re
import sys

from HiddenLayer import ACTIVATIONS
from mlp.datasets import DATASETS
from mlp.files import UserError, say
from mlp.optimizers import LEARNING_RATE_SCHEDULES, OPTIMIZERS
from mlp.process import TIE_MARGIN
from mlp.record import SETTING_FIELDS, whole


# ------------------------------------------------------- values of one flag

def parse_hidden_layers(text):
    """The list of hidden-layer widths a user typed, in any of the forms they type.

    "[256, 64]", "[256,64]", "256,64" and "256 64" all give [256, 64]; "[]" and
    "" give [] (no hidden layer). Raises ValueError saying what is wrong.
    """
    text = text.strip()
    if text.startswith("[") or text.endswith("]"):
        if not (text.startswith("[") and text.endswith("]")):
            raise ValueError(f"unbalanced brackets in {text!r}")
        text = text[1:-1].strip()
    if "[" in text or "]" in text:
        raise ValueError("nested or extra brackets; expected one list such as [256, 64]")
    if not text:
        return []
    items = [item.strip() for item in text.split(",")] if "," in text else text.split()
    sizes = []
    for item in items:
        if not item:
            raise ValueError("an empty item between commas")
        if not re.fullmatch(r"[+-]?\d+", item):
            raise ValueError(f"{item!r} is not a whole number")
        size = int(item)
        if size < 1:
            raise ValueError(f"a layer of {size} units; every layer needs at least 1")
        sizes.append(size)
    return sizes


def parse_networks(text):
    """One network or several: "[256, 64] [128] []" gives three (brackets group a network);
    any single-network form of parse_hidden_layers gives one. Raises ValueError."""
    groups = re.findall(r"\[[^\[\]]*\]", text)
    if len(groups) > 1 and not re.sub(r"\[[^\[\]]*\]", "", text).strip(" ,"):
        return [parse_hidden_layers(group) for group in groups]
    return [parse_hidden_layers(text)]


def flag_type(field):
    """An argparse type: a flag's text read as the record's field reads it (record.Field), and
    refused in the field's words unless the field accepts the value."""
    def parse(text):
        try:
            value = field.read(text)
        except ValueError:
            value = None
        if value is None or not field.test(value):
            raise argparse.ArgumentTypeError(f"{text!r}: expected {field.words}")
        return value
    return parse


def add_setting(parser, name, **keywords):
    """Add the flag --name of the setting name, its text read and checked by the record's field."""
    parser.add_argument(f"--{name}", type=flag_type(SETTING_FIELDS[name]), **keywords)


def choices_help(table, describe):
    """'name: what it is; name: ...' for the help of a flag whose choices are a table's keys."""
    return "; ".join(f"{name}: {describe(entry)}" for name, entry in table.items())


def per_dataset(attribute, every=True):
    """' (default: 100 for mnist, 1 for iris)' for the help of a flag whose default each data
    set chooses (its DatasetEntry's attribute; unless every, only the sets that have one)."""
    return " (default: " + ", ".join(
        f"{value:g} for {kind}" if isinstance(value, float) else f"{value} for {kind}"
        for kind, value in ((kind, getattr(entry, attribute)) for kind, entry in DATASETS.items())
        if every or value) + ")"


# ---------------------------------------------------------------- the parser

# The training flags that take several values: each combination of them is one run.
EXPERIMENT_FLAGS = ("hidden_layers", "learning_rate", "epochs", "batch_size", "activation",
                    "optimizer", "lr_schedule", "dropout", "weight_decay", "seed")


class DefaultOnceFormatter(argparse.HelpFormatter):
    """argparse's help, with "(default: X)" added to a flag's help unless the help already says
    its default or there is none to say (a switch, or a default that depends on the data set)."""

    def _get_help_string(self, action):
        help_text = action.help or ""
        if ("(default:" in help_text or action.default is None or action.nargs == 0
                or action.default == argparse.SUPPRESS):
            return help_text
        return help_text + " (default: %(default)s)"


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad flag is a UserError like every other mistake: one line (no usage
    block) and exit status 2."""

    def error(self, message):
        raise UserError(f"{message}{self.suggestion(message)} (see {self.prog} --help)")

    def suggestion(self, message):
        """'; did you mean --epochs?' for an unknown flag close to a real one, else ''."""
        unknown = re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", message.partition("arguments:")[2])
        known = [option for action in self._actions for option in action.option_strings]
        for flag in unknown:
            close = difflib.get_close_matches(flag.partition("=")[0].replace("-", "_").lstrip("_"),
                                              [option[2:] for option in known], n=1, cutoff=0.6)
            if close:
                return f"; did you mean --{close[0]}?"
        return ""

    def _print_message(self, message, file=None):  # --help: through the one way out
        if message:
            say(message, error=file is sys.stderr, end="")


def build_parser():
    parser = OneLineErrorParser(
        prog="Main.py", allow_abbrev=False,
        description="Train a multilayer perceptron written from scratch in numpy (sigmoid "
                    "hidden layers, softmax output, categorical cross-entropy, hand-written "
                    "backpropagation) on MNIST and Iris, and save its metric plots.",
        formatter_class=DefaultOnceFormatter)
    add_training_flags(parser)
    add_run_flags(parser)
    add_mode_flags(parser)
    return parser


def add_training_flags(parser):
    """The flags of what a run trains: the network, the optimizer and its schedule, the seed
    (each takes several values: an experiment)."""
    add_setting(parser, "learning_rate", nargs="+", default=0.001,
                help="step size of the optimizer")
    add_setting(parser, "epochs", nargs="+", default=30, help="passes over the training set")
    parser.add_argument("--hidden_layers", nargs="+", default=["[256, 64]"], metavar="SIZES",
                        help="widths of the hidden layers, e.g. [256, 64] (quoted or "
                             "not), 256,64 or 256 64; [] for none (softmax regression); several "
                             "networks in brackets, [256, 64] [128], make an experiment "
                             "(default: [256, 64])")
    parser.add_argument("--activation", nargs="+", choices=ACTIVATIONS, default="sigmoid",
                        help="activation of the hidden layers: "
                             + choices_help(ACTIVATIONS, lambda entry: entry.description))
    parser.add_argument("--lr_schedule", nargs="+", choices=LEARNING_RATE_SCHEDULES, default=None,
                        help=choices_help(LEARNING_RATE_SCHEDULES, lambda entry: entry.description)
                        + per_dataset("lr_schedule"))
    add_setting(parser, "batch_size", nargs="+", default=None,
                help="rows per gradient step" + per_dataset("batch_size"))
    add_setting(parser, "weight_decay", nargs="+", default=None,
                help="decoupled weight decay (AdamW's): each step shrinks the weights, "
                     "not the biases, by the factor 1 - learning rate x this; 0 turns "
                     "it off" + per_dataset("weight_decay"))
    add_setting(parser, "dropout", nargs="+", default=None,
                help="share of the hidden units' outputs dropped at random in each "
                     "training step (inverted dropout; evaluation uses them all); 0 "
                     "turns it off" + per_dataset("dropout"))
    parser.add_argument("--optimizer", nargs="+", choices=OPTIMIZERS, default="adam",
                        help=choices_help(OPTIMIZERS, lambda entry: entry.description))
    add_setting(parser, "seed", nargs="+", default=0,
                help="seeds the weights, the data split and the shuffling")


def add_run_flags(parser):
    """The flags of where a run reads and writes, and how it runs."""
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), metavar="NAME",
                        help="which data sets to train on, in order: " + ", ".join(DATASETS)
                        + f" (default: {' '.join(DATASETS)})")
    parser.add_argument("--output_dir", default="results",
                        help="plots and metrics go to OUTPUT_DIR/<dataset>/")
    for kind, entry in DATASETS.items():
        parser.add_argument(f"--{kind}_path", default=entry.default_path, help=entry.path_help)
    add_setting(parser, "validation_split", default=0.1,
                help="fraction of the training rows held out for validation")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="floating-point type of the weights and data")
    parser.add_argument("--augment", action="store_true",
                        help="each epoch, move every training image by its own random shift of "
                             "up to --augment_pixels pixels in each direction (data sets of "
                             "images only; validation and test images are never changed)")
    add_setting(parser, "augment_pixels", default=None,
                help="the largest shift --augment makes"
                     + per_dataset("augment_pixels", every=False))
    add_setting(parser, "threads", default=None,
                help="threads of numpy's BLAS for the matrix products; the same seed gives the "
                     "same numbers at the same count (default: the fewest of 1, 2, 4, ... up "
                     f"to the cores within {TIE_MARGIN * 100:.0f}%% of the fastest, timed on a "
                     "few batches before training; a count exported in OMP_NUM_THREADS or "
                     "OPENBLAS_NUM_THREADS is kept)")
    add_setting(parser, "patience", default=None,
                help="stop when the validation loss has not improved for this many "
                     "epochs, and keep the weights of the best epoch (default: off)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in OUTPUT_DIR from its last finished epoch, with "
                             "the same flags; data sets that finished are skipped")


def add_mode_flags(parser):
    """The flags of the other things the command does: experiments, your own data, a saved
    model, --explain and --gradient_check."""
    several = parser.add_argument_group(
        f"experiments (give any of {', '.join('--' + name for name in EXPERIMENT_FLAGS)} "
        f"several values: each combination is one run, in OUTPUT_DIR/<values>/)")
    several.add_argument("--jobs", type=flag_type(whole(1)), default=None,
                         help="runs of an experiment (several values given to any training "
                              "flag) trained at once (default: one per core, each with one BLAS "
                              "thread, as many as memory allows)")
    several.add_argument("--compare", nargs="+", default=None, metavar="FOLDER",
                         help="only compare runs that exist (run or experiment folders, made "
                              "anywhere): one picture and one table per data set, written to "
                              "OUTPUT_DIR")
    own = parser.add_argument_group("your own data")
    own.add_argument("--csv", default=None, metavar="FILE",
                     help="train on this CSV instead of " + " and ".join(
                         entry.title for entry in DATASETS.values())
                     + ": a header row, numeric feature columns and a class column named by "
                       "--target")
    own.add_argument("--target", default=None, metavar="COLUMN",
                     help="the class column of --csv")
    saved = parser.add_argument_group(
        "a saved model (every run saves OUTPUT_DIR/<dataset>/model.npz)")
    saved.add_argument("--model", default=None, metavar="FILE",
                       help="use this saved model instead of training one")
    saved.add_argument("--evaluate", action="store_true",
                       help="with --model: test loss, accuracy and per-class scores on the test "
                            "split of the data set it was trained on")
    saved.add_argument("--predict", default=None, metavar="FILE",
                       help="with --model: class and probabilities for each row of a CSV of "
                            "features, or each image of an npz (x_test, or its only array); "
                            "written to OUTPUT_DIR/predictions.csv")
    parser.add_argument("--explain", action="store_true",
                        help="work the assignment's written example (two inputs, three sigmoid "
                             "units, a linear output, target 8) with this project's code: every "
                             "forward and backward value, exact, beside the assignment's rounded "
                             "ones and finite differences; needs no data")
    parser.add_argument("--gradient_check", action="store_true",
                        help="check every layer's backward pass of a network with "
                             "--hidden_layers and --activation against finite differences on "
                             "a small random batch (float64), print the largest relative error "
                             "per layer, exit 0 if all are below 1e-6, else 1; needs no data")


def joined_hidden_layers(tokens):
    """tokens with the ones after --hidden_layers, up to the next flag, joined into its value.

    The shell splits the assignment's unquoted [256, 64] (and --hidden_layers=[256, 64])
    into two tokens, and argparse would take a token such as "-64]" for an unknown flag;
    joined, the whole list reaches parse_networks, which says what is wrong with it.
    """
    joined = []
    for token in tokens:
        if (joined and joined[-1].partition("=")[0] == "--hidden_layers"
                and not re.match(r"--[A-Za-z]", token)):
            joined[-1] += (" " if "=" in joined[-1] else "=") + token
        else:
            joined.append(token)
    return joined


# What a word processor makes of "--" (the assignment's own command is written with them): en
# dash, em dash, minus sign.
TYPESET_DASHES = "\u2013\u2014\u2212"


def plain_dashes(tokens, known):
    """tokens with a flag typed with typeset dashes (an en or em dash or a minus sign for -)
    or with hyphens inside (--learning-rate) read as the flag of known it means, and a note on
    standard error for each kind."""
    typeset, hyphens, fixed = [], [], []
    for token in tokens:
        dashes = re.match(f"[-{TYPESET_DASHES}]{{1,2}}(?=[A-Za-z])", token)
        if dashes and set(dashes.group()) & set(TYPESET_DASHES):
            typeset.append(token)
            token = "--" + token[dashes.end():]
        name, equals, value = token.partition("=")
        underscored = "--" + name[2:].replace("-", "_")
        if name.startswith("--") and name not in known and underscored in known:
            hyphens.append((name, underscored))
            token = underscored + equals + value
        fixed.append(token)
    if typeset:
        names = ", ".join(sorted({f"U+{ord(c):04X}" for token in typeset for c in token[:2]
                                  if c in TYPESET_DASHES}))
        plain = ["--" + token.lstrip("-" + TYPESET_DASHES) for token in typeset]
        say(f"Main.py: note: read {' '.join(typeset)} as {' '.join(plain)}: typographic dashes "
            f"({names}), as a word processor writes --", error=True)
    if hyphens:
        say(f"Main.py: note: read {' '.join(typed for typed, _ in hyphens)} as "
            f"{' '.join(flag for _, flag in hyphens)}: this program's flags are written with "
            f"underscores", error=True)
    return fixed


def parse_args(argv=None):
    """The parsed flags, with hidden_layers a list of ints and datasets a list of kinds.

    A bad value raises UserError, whose one line names the flag (Main.py exits with 2).
    """
    parser = build_parser()
    known = {option for action in parser._actions for option in action.option_strings}
    tokens = joined_hidden_layers(plain_dashes(sys.argv[1:] if argv is None else list(argv),
                                               known))
    args = parser.parse_args(tokens)
    try:
        args.hidden_layers = parse_networks(" ".join(args.hidden_layers))
    except ValueError as error:
        parser.error(f"argument --hidden_layers: {error}; expected a list of positive "
                     f"whole numbers such as [256, 64], or several in brackets: [256, 64] [128]")
    args.varied = several_values(args, parser)
    kinds = [kind.strip().lower() for token in args.datasets for kind in token.split(",")]
    unknown = [kind for kind in kinds if kind not in DATASETS]
    if unknown or not kinds:
        parser.error(f"argument --datasets: unknown data set {', '.join(map(repr, unknown))}; "
                     f"expected any of {', '.join(DATASETS)}")
    args.datasets = list(dict.fromkeys(kinds))
    if not args.output_dir.strip():
        parser.error("argument --output_dir: empty; expected a folder (it is created if missing)")
    if (args.csv is None) != (args.target is None):
        parser.error("argument --csv: --csv FILE and --target COLUMN go together")
    if args.csv is not None:
        args.datasets = ["csv"]
    if (args.evaluate or args.predict) and not args.model:
        parser.error("argument --model: --evaluate and --predict need --model FILE")
    if args.model and not (args.evaluate or args.predict):
        parser.error("argument --model: say what to do with it: --evaluate, --predict FILE, or "
                     "both")
    if args.augment and not any(DATASETS[kind].augment_pixels for kind in args.datasets
                                if kind in DATASETS):
        with_images = ", ".join(kind for kind, entry in DATASETS.items() if entry.augment_pixels)
        parser.error(f"argument --augment: {', '.join(args.datasets)} has no images to move; "
                     f"expected a data set of images ({with_images})")
    args.tokens = tokens  # as read: an experiment gives each of its runs these, one value each
    args.given_flags = set(flags_given(tokens))  # a reuse reads a run's recorded file unless given
    idle = idle_flag(args, flags_given(tokens))
    if idle:
        parser.error(idle)
    return args


def several_values(args, parser):
    """{setting: its values} for the flags given more than one value (an experiment); every
    flag of args is left holding its first value, as a single run reads it."""
    varied = {}
    for name in EXPERIMENT_FLAGS:
        values = getattr(args, name)
        if not isinstance(values, list) or not values:
            continue  # a default: one value already
        if name == "hidden_layers" and not isinstance(values[0], list):
            continue  # parsed before: one network
        repeated = [value for index, value in enumerate(values) if value in values[:index]]
        if repeated:
            parser.error(f"argument --{name}: {repeated[0]} is given twice; expected each value "
                         f"once")
        setattr(args, name, values[0])
        if len(values) > 1:
            varied[name] = values
    return varied


def flags_given(tokens):
    """The flags named on the command line, in order, without their values."""
    return [token.partition("=")[0] for token in tokens if re.match(r"--[A-Za-z]", token)]


# Each mode besides training: the flags that act in it (any other does nothing there), and how
# a refusal names the mode.
MODES = {
    "explain": ({"--explain"}, "--explain (it needs no data and no other flag)"),
    "gradient_check": ({"--gradient_check", "--hidden_layers", "--activation", "--seed",
                        "--dropout"}, "--gradient_check (it takes only --hidden_layers, "
                                      "--activation, --seed and --dropout)"),
    "model": ({"--model", "--evaluate", "--predict", "--output_dir", "--csv", "--target",
               *(f"--{kind}_path" for kind in DATASETS)},
              "--model (a saved model brings its own network and settings)"),
    "compare": ({"--compare", "--output_dir"}, "--compare (it only reads the runs it is given)"),
}
# The flags that act only when something else holds: (flag, the mode, None for training,
# whether it acts, what the refusal adds to "does nothing"). A saved model's data set is known
# once it is read: saved_models refuses another data set's file flag then.
ACTS_ONLY = [
    ("--jobs", None, lambda args: args.varied,
     " for one run; expected several values of a training flag (an experiment)"),
    ("--augment_pixels", None, lambda args: args.augment, " without --augment"),
    ("--datasets", None, lambda args: args.csv is None,
     " with --csv, which trains on the CSV alone"),
    *((f"--{kind}_path", None, lambda args, kind=kind: kind in args.datasets,
       f": {kind} is not among the data sets trained ({{datasets}})") for kind in DATASETS),
    ("--output_dir", "model", lambda args: args.predict, " with --model without --predict"),
    *((flag, "model", lambda args: args.evaluate, " with --model without --evaluate")
      for flag in ("--csv", "--target", *(f"--{kind}_path" for kind in DATASETS))),
]


def idle_flag(args, given):
    """The line refusing the first flag given that would do nothing (MODES, ACTS_ONLY), or
    None."""
    mode = next((mode for mode in MODES if getattr(args, mode)), None)
    if mode is not None and args.varied:
        return (f"argument --{next(iter(args.varied))}: several values make an experiment, "
                f"which trains; expected one value with --{mode}")
    for flag in given:
        if mode is not None and flag not in MODES[mode][0]:
            return f"argument {flag}: does nothing with {MODES[mode][1]}"
        for rule_flag, rule_mode, acts, words in ACTS_ONLY:
            if (rule_flag, rule_mode) == (flag, mode) and not acts(args):
                return (f"argument {flag}: does nothing"
                        + words.format(datasets=", ".join(args.datasets)))
    return None
