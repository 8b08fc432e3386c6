"""The Session's evaluation and sampling policy, as constants (core.engine.session explains it); the cores a model
trains on are core.kernels.threads.training_threads's rule.

Torch-free and import-free, so that the app's process can quote these numbers in its help text and
panes without loading the engine (tests/unit/test_layers.py).
"""

EVAL_INTERVAL = 2.0  # seconds of training between scheduled evaluations, at least ...
EVAL_SHARE = 0.05  # ... and long enough that they cost at most this share of the training time,
EVAL_MAX_INTERVAL = 30.0  # ... but never longer than this
EVAL_BUDGET = 0.05  # share of training time that evaluating the full train split may take
TRAIN_SAMPLE_ROWS = 20_000  # fixed subset of the train split used between full passes
# A split whose rows x vocabulary exceed LARGE_SPLIT_WORK is large (the built-in running text's dev split with
# words: 86K rows x 5.5K words; names' train split, 182K x 27, is not). Scheduled evaluations then take dev and test
# on fixed samples spread over the split (LARGE_SAMPLE_MIN to TRAIN_SAMPLE_ROWS rows, fewer for a larger
# vocabulary), the best dev loss (patience, keep_best) is that sample's, and the train split is never evaluated in
# full. Dev and test are evaluated in full at the start, a pause and the end.
LARGE_SPLIT_WORK = 20_000_000
LARGE_SAMPLE_MIN = 2_000  # a large split's sample: LARGE_SPLIT_WORK / 5 / vocabulary rows, at least these
# The first evaluation (of a new model, or of a run continued) reads each split in full only if that costs at most
# FIRST_SPLIT_WORK multiply-adds (core.model.row_macs per row), else a fixed sample of that much spread over the split:
# the `best` ensemble's dev + test in full (46K rows) kept its first step 2.7 s away. Dev and test are then read in
# full from the next scheduled evaluation (a large split: on its own sample, as before), and the best dev loss is
# not kept from such a sample. Every other preset reads dev and test in full at the start, as before.
FIRST_SPLIT_WORK = 4_000_000_000
SAMPLE_INTERVAL = 3.0  # seconds between batches of sampled names
