"""The unit tier: no subprocess, no app or Pilot, no sleeping, no spawned processes.

A package, so that its module names may repeat those of tests/functional."""
