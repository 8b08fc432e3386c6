"""The transports of the training process: their event queues are bounded (core.link.pump.Pump.send)."""

from __future__ import annotations


def test_the_transports_event_queues_are_bounded():
    from core.link.pump import OUT_QUEUE_SIZE
    from core.link.transport import TrainerProcess, TrainerThread

    assert TrainerThread().results.maxsize == OUT_QUEUE_SIZE
    proc = TrainerProcess()
    assert proc.results._maxsize == OUT_QUEUE_SIZE  # multiprocessing's bound (it has no public name)
    proc.close()
