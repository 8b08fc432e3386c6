"""mlp-tui's engine: data, the Bengio MLP, a fast trainer, sampling and checkpoints. No UI imports."""

import warnings

# The CPU torch wheel works without NumPy but warns on import; nothing here needs NumPy.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
