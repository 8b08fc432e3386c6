"""The functional tier: the CLI in or out of process, the app under Pilot, processes, sweeps, serve.

A package, so that its module names may repeat those of tests/unit."""
