"""`mlp-tui sample`: greedy at a near-zero temperature, bounded seed and prefix, streaming ten million names
in bounded memory, and a closed stdout. The sampler itself: tests/unit/test_sample.py."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from conftest import assert_cli_error, run_cli
from helpers import COMMAND


@pytest.mark.slow
def test_sample_ten_million_streams_without_growing(trained_run):
    """The repro: `sample -n 10000000` grew to 23.5 GB and printed nothing for 300 s."""
    _, run = trained_run
    p = subprocess.Popen([*COMMAND, "sample", "--checkpoint", str(run), "-n", "10000000", "--seed", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    lines = [p.stdout.readline() for _ in range(20_000)]  # the first batches arrive at once
    first_seconds = time.monotonic() - t0
    rss = _rss_mib(p.pid)
    p.kill()
    p.wait()
    assert all(x.endswith(b"\n") for x in lines) and first_seconds < 60  # (a name can be empty)
    assert rss < 1024, f"{rss} MiB"


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.parametrize("t", ["1e-300", "0", "5e-324"])
def test_a_near_zero_temperature_samples_greedily(capsys, trained_run, t):
    _, run = trained_run
    code, out, err = run_cli(capsys, ["sample", "--checkpoint", str(run), "-n", "5", "--temperature", t])
    assert code == 0, err
    assert len(set(out.split())) == 1  # greedy: the same word five times


@pytest.mark.slow
def test_sample_seed_and_prefix_are_bounded_and_a_closed_stdout_is_fine(capsys, trained_run):
    _, run = trained_run
    code, _, err = run_cli(capsys, ["sample", "--checkpoint", str(run), "--seed", str(2**64)])
    assert_cli_error(code, err, "--seed")
    code, _, err = run_cli(capsys, ["sample", "--checkpoint", str(run), "--prefix", "a" * 201])
    assert_cli_error(code, err, "--prefix", "at most 200 characters")
    r = subprocess.run(f"'{COMMAND[0]}' sample --checkpoint '{run}' -n 3 >&-" if len(COMMAND) == 1 else "true",
                       shell=True, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in r.stderr
