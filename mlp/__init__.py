"""Everything around the network that the assignment does not name.

The network itself is in the three files beside this package (HiddenLayer.py,
OutputLayer.py, Model.py), which never import it; Main.py tells the story of a
run and calls on the modules here, one job each:

    flags           the command line's flags and every check of their values
    run_record      what a run is made of: its settings and its data's identity
    datasets        reading, checking and splitting MNIST, Iris and CSV files
    optimizers      Adam, SGD, momentum, and the learning-rate schedules
    callbacks       progress lines, the Ctrl-C stop, early stopping, layer health
    augment         --augment: training images shifted a few pixels each epoch
    checkpoint      the checkpoint after every epoch, and --resume
    records         metrics.json, history.csv and the plots of a run
    guarded         every file read and written, atomically, and the output lock
    plots           the diagnostic figures (confusion matrix, calibration, ...)
    metrics         confusion matrix, per-class scores, calibration
    model_file      model.npz: saving a trained model and loading it back
    prediction      --model with --evaluate and --predict
    gradient_check  finite differences, for the tests and --gradient_check
    explain         --explain: the assignment's written example, worked
    console         what a run prints: its header, the network, the summary
    experiments     several values per flag: one run per combination, in parallel
    comparison      runs side by side, read from their metrics.json (and --compare)
    estimator       the network as a scikit-learn classifier
    errors          the errors a user can cause, and their exit statuses
    outputs         every path a command will write, checked before it writes
    signals         Ctrl-C and SIGTERM while training
    threads         the BLAS thread count
"""
