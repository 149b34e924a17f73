"""Everything around the network that the assignment does not name.

The network itself is in the three files beside this package (HiddenLayer.py,
OutputLayer.py, Model.py), which never import it; Main.py tells the story of a
run and calls on the modules here, one job each:

    flags           the command line's flags and every check of their values
    record          what a run is made of (its settings, its data's identity), and the one
                    check of every field of a run's record, wherever one is read
    datasets        reading, checking and splitting MNIST, Iris and CSV files
    optimizers      Adam, SGD, momentum, and the learning-rate schedules
    callbacks       between the steps: progress, Ctrl-C, early stopping, layer health, a
                    network stuck at chance, --augment
    checkpoint      the checkpoint after every epoch, --resume, and earlier runs set aside
    results         what a run leaves: metrics.json, history.csv, the plots, model.npz
    files           every file read and written (atomically), the lock, every printed line,
                    the paths a command will write, and the errors a user can cause
    plots           the diagnostic figures (confusion matrix, calibration, ...)
    metrics         confusion matrix, per-class scores, calibration, chance level
    saved_models    model.npz read back, --evaluate and --predict
    gradients       --explain (the assignment's example, worked) and --gradient_check
    console         what a run prints: its header, the network, the summary
    signals         how a command ends: Ctrl-C and SIGTERM, exit statuses
    threads         the BLAS thread count
    experiments     several values per flag: one run per combination, in parallel
    comparison      runs side by side, read from their metrics.json (and --compare)
    estimator       the network as a scikit-learn classifier
"""
