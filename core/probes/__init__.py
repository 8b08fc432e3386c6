"""The probes: inspection (embeddings, lr finder, scoring, health), sampling, the counting baseline,
exercises, bench."""
