"""The run folder: its format, the writer, the lock, the listing, checkpoints, and every border where bytes cross."""
