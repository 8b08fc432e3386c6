"""Optuna sweeps: the study and its trials, the sweep's worker processes, a study as plain data for the view."""
