"""The command line's flags, built from the project's tables, and every check of their values.

A bad value ends the program in one line that names the flag and says what was
expected, with exit status 2, before any data is read. The command line ends here:
parse_args returns a Command, the typed answer to what to do, with which settings
and files; the modules below take it, or the values they use from it, never
argparse's Namespace.
"""

import argparse
import re
import sys
from dataclasses import dataclass, fields, make_dataclass
from typing import Optional

from HiddenLayer import ACTIVATIONS
from mlp.datasets import DATASETS
from mlp.errors import UserError, closest
from mlp.files import say
from mlp.optimizers import LEARNING_RATE_SCHEDULES, OPTIMIZERS
from mlp.process import TIE_MARGIN
from mlp.record import CSV, FILE_NAMES, SETTING_FIELDS, RunSettings, data_file_flag, whole

# ------------------------------------------------------- values of one flag

def parse_hidden_layers(text):
    """The list of hidden-layer widths a user typed, in any of the forms they type.

    "[256, 64]", "[256,64]", "256,64" and "256 64" all give [256, 64]; "[]" and
    "" give [] (no hidden layer). Raises ValueError saying what is wrong.
    """
    text = text.strip()
    opened, closed = text.startswith("["), text.endswith("]")
    if opened != closed:
        raise ValueError(f"unbalanced brackets in {text!r}")
    text = text[1:-1] if opened else text
    if "[" in text or "]" in text:
        raise ValueError("nested or extra brackets; expected one list such as [256, 64]")
    items = [item.strip() for item in text.split(",")] if "," in text else text.split()
    for item in items:
        if not re.fullmatch(r"[+-]?\d+", item):
            raise ValueError(f"{item!r} is not a whole number" if item
                             else "an empty item between commas")
        if int(item) < 1:
            raise ValueError(f"a layer of {int(item)} units; every layer needs at least 1")
    return [int(item) for item in items]


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
    """Add the flag --name of the setting name, its text read and checked by the record's field
    (or, for a flag of RANGES, also a range LOW..HIGH)."""
    read = flag_type(SETTING_FIELDS[name])
    parser.add_argument(f"--{name}", type=range_or(read, name) if name in RANGES else read,
                        **keywords)


@dataclass(frozen=True)
class Range:
    """A range LOW..HIGH a search draws a flag's value from: on a log scale where log, as whole
    numbers where whole."""
    low: float
    high: float
    log: bool
    whole: bool

    def __str__(self):
        return f"{self.low:g}..{self.high:g}"


# The flags that take a range: whether each is drawn on a log scale (weight decay only when its
# LOW is above 0) and as whole numbers, and a range of it as an example.
RANGES = {"learning_rate": (True, False, "1e-4..1e-1"), "weight_decay": (True, False, "1e-5..1e-1"),
          "dropout": (False, False, "0..0.5"), "batch_size": (True, True, "16..256"),
          "epochs": (False, True, "5..40")}


def range_or(read, name):
    """An argparse type: a value as read() reads it, or a Range LOW..HIGH of two such values."""
    def parse(text):
        if ".." not in text:
            return read(text)
        low_text, _, high_text = text.partition("..")
        if not low_text.strip() or not high_text.strip():
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected a range LOW..HIGH with a number at each end")
        low, high = read(low_text), read(high_text)
        if not low < high:
            raise argparse.ArgumentTypeError(
                f"{text!r}: LOW is not below HIGH; expected a range LOW..HIGH such as "
                f"{RANGES[name][2]}")
        log, whole_numbers, _ = RANGES[name]
        return Range(low, high, log and low > 0, whole_numbers)
    return parse



def choices_help(table):
    """'name: what it is; name: ...' for the help of a flag whose choices are a table's keys."""
    return "; ".join(f"{name}: {entry.description}" for name, entry in table.items())


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
        said = ("(default:" in action.help or action.nargs == 0
                or action.default in (None, argparse.SUPPRESS))
        return action.help + ("" if said else " (default: %(default)s)")


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
            close = closest(flag.partition("=")[0].replace("-", "_").lstrip("_"),
                            [option[2:] for option in known])
            if close:
                return f"; did you mean --{close}?"
        return ""

    def _print_message(self, message, file=None):  # --help: through the one way out
        if message:
            say(message, error=file is sys.stderr, end="")


def build_parser():
    parser = OneLineErrorParser(
        prog="Main.py", allow_abbrev=False, formatter_class=DefaultOnceFormatter,
        description="Train a multilayer perceptron written from scratch in numpy (sigmoid "
                    "hidden layers, softmax output, categorical cross-entropy, hand-written "
                    "backpropagation) on MNIST and Iris, and save its metric plots.")
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
                        help="widths of the hidden layers: [256, 64] (quoted or not), 256,64 or "
                             "256 64; [] for none (softmax regression); several networks in "
                             "brackets, [256, 64] [128], make an experiment (default: [256, 64])")
    for name, table, default, lead in (
            ("activation", ACTIVATIONS, "sigmoid", "activation of the hidden layers: "),
            ("lr_schedule", LEARNING_RATE_SCHEDULES, None, ""),
            ("optimizer", OPTIMIZERS, "adam", "")):
        parser.add_argument(f"--{name}", nargs="+", choices=table, default=default,
                            help=lead + choices_help(table) + (per_dataset(name) if not default
                                                               else ""))
    for name, words in (
            ("batch_size", "rows per gradient step"),
            ("weight_decay", "decoupled weight decay (AdamW's): each step shrinks the weights, "
                             "not the biases, by the factor 1 - learning rate x this; 0: off"),
            ("dropout", "share of the hidden units' outputs dropped at random in each training "
                        "step (inverted dropout; evaluation uses them all); 0: off")):
        add_setting(parser, name, nargs="+", default=None, help=words + per_dataset(name))
    add_setting(parser, "seed", nargs="+", default=0,
                help="seeds the weights, the data split and the shuffling")


def add_run_flags(parser):
    """The flags of where a run reads and writes, and how it runs."""
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), metavar="NAME",
                        help=f"which data sets to train on, in order: {', '.join(DATASETS)} "
                             f"(default: {' '.join(DATASETS)})")
    parser.add_argument("--output_dir", default="results",
                        help="plots and metrics go to OUTPUT_DIR/<dataset>/")
    for kind, entry in DATASETS.items():
        parser.add_argument(f"--{kind}_path", default=entry.default_path, help=entry.path_help)
    add_setting(parser, "validation_split", default=0.1,
                help="fraction of the training rows held out for validation")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="floating-point type of the weights and data")
    parser.add_argument("--augment", action="store_true",
                        help="each epoch, shift every training image at random by up to "
                             "--augment_pixels pixels each way (images only; validation and "
                             "test images are never changed)")
    add_setting(parser, "augment_pixels", default=None, help="the largest shift --augment makes"
                + per_dataset("augment_pixels", every=False))
    add_setting(parser, "threads", default=None,
                help="threads of numpy's BLAS; the same seed gives the same numbers at the same "
                     f"count (default: the fewest that train within {TIE_MARGIN * 100:.0f}%% of "
                     "the fastest, timed before training, or the count OMP_NUM_THREADS or "
                     "OPENBLAS_NUM_THREADS exports)")
    add_setting(parser, "patience", default=None,
                help="stop when the validation loss has not improved for this many epochs, and "
                     "keep the weights of the best epoch (default: off)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in OUTPUT_DIR from its last finished epoch, with "
                             "the same flags; data sets that finished are skipped")


def add_mode_flags(parser):
    """The flags of the other things the command does: experiments, your own data, a saved
    model, --explain and --gradient_check."""
    several = parser.add_argument_group(
        f"experiments (give any of {', '.join('--' + name for name in EXPERIMENT_FLAGS)} "
        f"several values: each combination is one run, in OUTPUT_DIR/<values>/)")
    several.add_argument("--trials", type=flag_type(whole(1)), default=None,
                         help="make the command a search of this many trials drawn by Optuna's "
                              "TPE sampler (seeded by --seed) from the ranges (LOW..HIGH, for "
                              f"{', '.join('--' + name for name in RANGES)}) and the values "
                              "given; the learning rate, the batch size and a weight decay "
                              "whose LOW is above 0 are drawn on a log scale")
    from mlp.search import DEFAULT_PRUNER, PRUNERS  # (here: mlp.search imports this module)

    several.add_argument("--pruner", choices=PRUNERS, default=DEFAULT_PRUNER,
                         help="with --trials, what stops a trial that falls behind, from each "
                              "epoch's validation loss: " + "; ".join(
                                  f"{name}: {' '.join(prune.__doc__.split())}"
                                  for name, prune in PRUNERS.items()))
    several.add_argument("--storage", default=None, metavar="URL",
                         help="with --trials, keep the study in this database (such as "
                              "postgresql+psycopg://USER@HOST/DATABASE) instead of a journal file "
                              "in OUTPUT_DIR: the same command on several machines, each with its "
                              "own --output_dir, shares the study and its --trials")
    several.add_argument("--study", default="search", metavar="NAME",
                         help="with --storage, the study's name in the database")
    several.add_argument("--jobs", type=flag_type(whole(1)), default=None,
                         help="runs of an experiment, or trials of a search, trained at once "
                              "(default: one per core, each with one BLAS thread, as many as "
                              "memory allows)")
    several.add_argument("--compare", nargs="+", default=None, metavar="FOLDER",
                         help="only compare runs that exist (run or experiment folders, made "
                              "anywhere): a picture and a table per data set, in OUTPUT_DIR")
    own = parser.add_argument_group("your own data")
    own.add_argument("--csv", default=None, metavar="FILE",
                     help="train on this CSV instead: a header row, numeric feature columns "
                          "and a class column named by --target")
    own.add_argument("--target", default=None, metavar="COLUMN", help="the class column of --csv")
    saved = parser.add_argument_group(
        "a saved model (every run saves OUTPUT_DIR/<dataset>/model.npz)")
    saved.add_argument("--model", default=None, metavar="FILE",
                       help="use this saved model instead of training one")
    saved.add_argument("--evaluate", action="store_true",
                       help="with --model: test loss, accuracy and per-class scores on the test "
                            "split of the data set it was trained on")
    saved.add_argument("--predict", default=None, metavar="FILE",
                       help="with --model: class and probabilities for each row of a CSV of "
                            "features, or each image of an npz (x_test, or its only array), "
                            "written to OUTPUT_DIR/predictions.csv")
    parser.add_argument("--explain", action="store_true",
                        help="work the assignment's written example (two inputs, three sigmoid "
                             "units, a linear output, target 8) in this project's code: every "
                             "value, exact, beside the assignment's rounded ones and finite "
                             "differences; needs no data")
    parser.add_argument("--gradient_check", action="store_true",
                        help="check every layer's backward pass of --hidden_layers with "
                             "--activation against finite differences (float64); exit 0 if "
                             "every relative error is below 1e-6, else 1; needs no data")


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
    for typed in tokens:
        token = typed
        dashes = re.match(f"[-{TYPESET_DASHES}]{{1,2}}(?=[A-Za-z])", token)
        if dashes and set(dashes.group()) & set(TYPESET_DASHES):
            token = "--" + token[dashes.end():]
            typeset.append((typed, token))
        name, equals, value = token.partition("=")
        underscored = "--" + name[2:].replace("-", "_")
        if name.startswith("--") and name not in known and underscored in known:
            hyphens.append((name, underscored))
            token = underscored + equals + value
        fixed.append(token)
    codes = sorted({f"U+{ord(c):04X}" for typed, _ in typeset for c in typed[:2]
                    if c in TYPESET_DASHES})
    for read, why in ((typeset, f"typographic dashes ({', '.join(codes)}), as a word processor "
                                "writes --"),
                      (hyphens, "this program's flags are written with underscores")):
        if read:
            say(f"Main.py: note: read {' '.join(typed for typed, _ in read)} as "
                f"{' '.join(flag for _, flag in read)}: {why}", error=True)
    return fixed


# Flags that need one another: (whether args break the rule, the flag named, what is wrong).
NEEDS = (
    (lambda args: not args.output_dir.strip(), "--output_dir",
     "empty; expected a folder (it is created if missing)"),
    (lambda args: (args.csv is None) != (args.target is None), "--csv",
     "--csv FILE and --target COLUMN go together"),
    (lambda args: (args.evaluate or args.predict) and not args.model, "--model",
     "--evaluate and --predict need --model FILE"),
    (lambda args: args.model and not (args.evaluate or args.predict), "--model",
     "say what to do with it: --evaluate, --predict FILE, or both"),
)


# ---------------------------------------------------------------- the command

# The training flags as given (the first value of a flag given several): a RunSettings but for
# the data file, None where a flag is unset and the data set's default applies
# (record.RunSettings.from_flags).
TrainingFlags = make_dataclass("TrainingFlags", [
    (field.name, field.type) for field in fields(RunSettings) if field.name != "data_file"],
    frozen=True)


@dataclass(frozen=True)
class Command:
    """What the command line asks for: the mode (train, experiment, search, compare, model,
    explain, gradient_check), the training flags, the files, and for an experiment or a search
    the values it varies (a list of values, or a list of one Range) and the tokens each of its
    runs is given."""
    mode: str
    datasets: list              # the kinds of data set to train on, in order
    training: TrainingFlags
    data_files: dict            # {kind: its file flag's value} (None: the set's default file)
    output_dir: str
    resume: bool = False
    varied: dict = None         # {training flag: its several values} (an experiment)
    jobs: Optional[int] = None
    trials: Optional[int] = None    # a search's budget of trials
    pruner: Optional[str] = None    # a search's pruner, a key of search.PRUNERS
    storage: Optional[str] = None   # a shared search's database URL (it may hold a password)
    study: str = "search"           # the study's name in it
    compare: Optional[list] = None
    model: Optional[str] = None
    evaluate: bool = False
    predict: Optional[str] = None
    tokens: tuple = ()          # as read, the typographic dashes and split lists mended
    given_flags: frozenset = frozenset()

    def data_file(self, kind, given_only=False):
        """Data set kind's file flag's value (None: the set's default file); with given_only,
        None unless it was typed (a reuse of a run reads the recorded file otherwise)."""
        if given_only and data_file_flag(kind) not in self.given_flags:
            return None
        return self.data_files.get(kind)


def command_of(args):
    """The Command of parsed flags (argparse's Namespace stops here)."""
    mode = next((mode for mode in MODES if getattr(args, mode)), None) or (
        "search" if args.trials else "experiment" if args.varied else "train")
    return Command(
        mode=mode, datasets=args.datasets,
        training=TrainingFlags(**{field.name: getattr(args, FILE_NAMES.get(field.name, field.name))
                                  for field in fields(TrainingFlags)}),
        data_files={kind: getattr(args, data_file_flag(kind)[2:]) for kind in (*DATASETS, CSV)},
        output_dir=args.output_dir, resume=args.resume, varied=args.varied, jobs=args.jobs,
        trials=args.trials, pruner=args.pruner, storage=args.storage, study=args.study,
        compare=args.compare, model=args.model, evaluate=args.evaluate, predict=args.predict,
        tokens=tuple(args.tokens), given_flags=frozenset(args.given_flags))


def parse_args(argv=None):
    """The Command the flags in argv ask for (sys.argv's when None).

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
    args.datasets = ["csv"] if args.csv is not None else list(dict.fromkeys(kinds))
    for broken, flag, words in NEEDS:
        if broken(args):
            parser.error(f"argument {flag}: {words}")
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
    if args.trials and not args.varied:
        parser.error(f"argument --trials: nothing to choose; expected a range LOW..HIGH (of "
                     f"{', '.join('--' + name for name in RANGES)}) or several values of a "
                     f"training flag")
    if args.trials and len(args.datasets) > 1:
        parser.error(f"argument --trials: a search trains one data set, and {len(args.datasets)} "
                     f"are named ({', '.join(args.datasets)}); expected --datasets with one")
    if args.trials and "seed" in args.varied:
        parser.error(f"argument --seed: a search has one seed, its sampler's and its trials', "
                     f"and {len(args.varied['seed'])} are given; expected one value")
    return command_of(args)


def several_values(args, parser):
    """{setting: its values} for the flags given more than one value (an experiment); every
    flag of args is left holding its first value, as a single run reads it."""
    varied = {}
    for name in EXPERIMENT_FLAGS:
        values = getattr(args, name)
        ranges = [value for value in values if isinstance(value, Range)] if isinstance(
            values, list) else []
        if ranges and len(values) > 1:
            parser.error(f"argument --{name}: a range and other values together; expected one "
                         f"range LOW..HIGH to draw from, or values to choose among")
        if ranges:
            if not args.trials:
                parser.error(f"argument --{name}: the range {ranges[0]} is drawn from by a "
                             f"search; expected --trials N as well, or values to try each of")
            setattr(args, name, ranges[0].low)  # (as a single run reads it: see Command)
            varied[name] = ranges
            continue
        if isinstance(values, list) and values:  # given (a default is one value already)
            repeated = [value for index, value in enumerate(values) if value in values[:index]]
            if repeated:
                parser.error(f"argument --{name}: {repeated[0]} is given twice; expected each "
                             f"value once")
            setattr(args, name, values[0])
            varied.update({name: values} if len(values) > 1 else {})
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
# The flags that act only when something else holds: {(flag, the mode, None for training):
# (whether it acts, what the refusal adds to "does nothing")}. A saved model's data set is known
# once it is read: saved_models refuses another data set's file flag then.
ACTS_ONLY = {
    ("--jobs", None): (lambda args: args.varied,
                       " for one run; expected several values of a training flag (an experiment)"),
    **{(flag, None): (lambda args: args.trials, " without --trials (a search)")
       for flag in ("--pruner", "--storage")},
    ("--study", None): (lambda args: args.storage, " without --storage (a shared search)"),
    ("--augment_pixels", None): (lambda args: args.augment, " without --augment"),
    ("--datasets", None): (lambda args: args.csv is None,
                           " with --csv, which trains on the CSV alone"),
    **{(f"--{kind}_path", None): (lambda args, kind=kind: kind in args.datasets,
                                  f": {kind} is not among the data sets trained ({{datasets}})")
       for kind in DATASETS},
    ("--output_dir", "model"): (lambda args: args.predict, " with --model without --predict"),
    **{(flag, "model"): (lambda args: args.evaluate, " with --model without --evaluate")
       for flag in ("--csv", "--target", *(f"--{kind}_path" for kind in DATASETS))},
}


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
        acts, words = ACTS_ONLY.get((flag, mode), (None, ""))
        if acts and not acts(args):
            return (f"argument {flag}: does nothing"
                    + words.format(datasets=", ".join(args.datasets)))
    return None
