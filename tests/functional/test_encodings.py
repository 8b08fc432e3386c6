"""Output a terminal's encoding cannot hold (PYTHONIOENCODING=ascii, a latin-1 locale): every command prints
through stdout and stderr made tolerant in tui.cli.main (core.runs.files.tolerant_streams), so `·`, `ë`, `…` and
a run's name come out as look-alikes, never as a UnicodeEncodeError traceback; error lines too."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import SMALL_WORDS, run_cli, write_words
from helpers import COMMAND, ROOT

ACCENTED = ["zoë", "chloë", "josé", "renée", "noël", "anaïs", "maël"] * 6 + SMALL_WORDS[:20]


@pytest.fixture(scope="module")
def accented_run(tmp_path_factory):
    """A run trained on names with accents, in a folder whose name has `ë` and `·`: (runs folder, run, words)."""
    base = tmp_path_factory.mktemp("enc")
    words = write_words(base / "prénoms.txt", ACCENTED)
    root = base / "runs"
    run = root / "zoë·run"
    from tui.cli import main

    assert main(["train", "--data", str(words), "--steps", "30", "--n-hidden", "8", "--out", str(run), "--quiet"]) == 0
    return root, run, words


def _cli(argv: list[str], encoding: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": encoding, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*COMMAND, *argv], capture_output=True, env=env, timeout=120)


def _commands(root, run, words) -> list[tuple[list[str], int, str]]:
    """(argv, exit status, what it must print somewhere): output, progress and error lines with text to replace."""
    return [
        (["runs", "--runs-dir", str(root)], 0, "zo"),  # the built-in names' · separator and the run's ë
        (["sample", "--checkpoint", str(run), "--prefix", "zoë", "-n", "5", "--seed", "1"], 0, "zoe"),
        (["eval", "--checkpoint", str(run)], 0, "dev"),
        (["recipe", str(run)], 0, "pr"),
        (["export", str(run)], 0, "step"),
        (["ngram", "--data", str(words), "--order", "2"], 0, "dev"),
        (["sweep", "show", "zoë…", "--storage", f"sqlite:///{root}/zoë·sweeps.db"], 2, "zoe-sweeps.db does not exist"),
        (["train", "--data", str(words.parent / "noël.txt"), "--steps", "1"], 2, "noe"),
        (["recipe", str(root / "ränn")], 2, "rann"),
        (["sample", "--checkpoint", str(run), "--prefix", "ψ"], 2, "error"),
        (["--help"], 0, "usage"),
    ]


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_every_command_prints_on_a_narrow_encoding(accented_run, encoding):
    failures = []
    commands = _commands(*accented_run)
    if encoding != "ascii":  # latin-1 holds ë: the commands that print ·, … or a letter beyond it
        commands = [c for c in commands if c[0][0] in ("runs", "sweep") or "ψ" in c[0]]
    for argv, status, fragment in commands:
        p = _cli(argv, encoding)
        text = (p.stdout + p.stderr).decode(encoding)
        if p.returncode != status or "Traceback" in text or "UnicodeEncodeError" in text:
            failures.append((argv[:2], p.returncode, text[-300:]))
        elif encoding == "ascii" and fragment not in text:  # latin-1 holds ë itself
            failures.append((argv[:2], "missing", fragment, text[-300:]))
    assert not failures, failures


def test_the_tolerant_streams_in_process(capsys, accented_run):
    """The streams main() sets up replace, whatever their encoding: a latin-1 stdout gets ë and loses ·."""
    import io
    import sys

    from core.runs.files import tolerant_streams

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    old = sys.stdout
    sys.stdout = stream
    try:
        tolerant_streams()
        print("zoë · 2.17 … ✓ ψ")
        stream.flush()
    finally:
        sys.stdout = old
    assert raw.getvalue() == b"zoe - 2.17 ... v ?\n"
    code, out, _ = run_cli(capsys, ["runs", "--runs-dir", str(accented_run[0])])
    assert code == 0 and "zoë·run" in out  # a UTF-8 stream is left as it was
