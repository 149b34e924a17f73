"""Everything around the network that the assignment does not name.

The network itself is in the three files beside this package (HiddenLayer.py,
OutputLayer.py, Model.py), which never import it; Main.py tells the story of a
run and calls on the modules here, one job each:

    record          a run's record (its settings, its data, how it ended, what it did):
                    written one way, read and checked one way, older files upgraded
    errors          the errors a user's mistake or a failed run raises, the exit statuses
    files           every file read and written (atomically), the lock, every printed line,
                    the paths a command will write
    flags           the command line's flags and every check of their values: a Command
    datasets        reading, checking and splitting MNIST, Iris and CSV files
    optimizers      Adam, SGD, momentum, weight decay, and the learning-rate schedules
    callbacks       between the steps: progress, Ctrl-C, early stopping, layer health, a
                    network stuck at chance, --augment
    checkpoint      the checkpoint after every epoch, --resume, and earlier runs set aside
    report          what a run prints and leaves: its folder, the summary, metrics.json,
                    history.csv, the plots, model.npz
    diagnostics     the test set's scores, calibration, chance level, gradient sizes, and
                    the diagnostic figures (confusion matrix, calibration, layer health, ...)
    saved_models    model.npz read back, --evaluate and --predict
    gradients       --explain (the assignment's example, worked) and --gradient_check
    process         the BLAS threads, the memory a network needs, signals and exit statuses
    experiments     several values per flag: one run per combination, in parallel
    search          ranges and --trials: runs that Optuna's sampler draws, one at a time or
                    in parallel, each an ordinary run
    comparison      runs side by side from their metrics.json (an experiment's, --compare)
    estimator       the network as a scikit-learn classifier
"""
