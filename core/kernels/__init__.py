"""The kernels: one training step each (the lecture's, the general layouts', the compiled ones,
an ensemble's members)."""
