"""The README's table of token kinds on one scale: the same MLP (`--preset bengio`: context 4, m 60, h 50, direct
connections) on the same running text, trained for the same wall-clock budget once per kind of token, compared by
test bits per character (the one measure that does not depend on the token).

    python bench/token_table.py                       # 6 runs of 5 minutes: chars, words, bpe 257/1000/4000/16000
    python bench/token_table.py --minutes 1 --rows chars,bpe1000
    python bench/token_table.py --tabulate RUN ...    # the table of runs already made

Each row is one `mlp-tui train` process, run one after another so that they do not share the cores. Tokens per
word is counted on the training split (core.probes.tokenview): a word model's is 1 with `<unk>` for rare words,
whose bits per character are a lower bound (marked *).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROWS = {"chars": ["--tokens", "chars"], "words": ["--tokens", "words"],
        **{f"bpe{n}": ["--tokens", "bpe", "--bpe-vocab", str(n)] for n in (257, 1000, 4000, 16000)}}


def train(row: str, minutes: float, runs_dir: Path, data: str | None) -> Path:
    """One row: a fresh `mlp-tui train` of the bengio preset with this row's tokens; its run folder."""
    cmd = [sys.executable, "-m", "tui.cli", "train", "--preset", "bengio", *ROWS[row], "--minutes", str(minutes),
           "--runs-dir", str(runs_dir), "--quiet"]
    if data:
        cmd += ["--data", data]
    before = set(runs_dir.iterdir()) if runs_dir.exists() else set()
    subprocess.run(cmd, check=True)
    made = sorted(set(runs_dir.iterdir()) - before)
    if len(made) != 1:
        raise SystemExit(f"token_table: expected one new run folder in {runs_dir}, found {len(made)}")
    return made[0]


def row_of(run: Path) -> dict[str, object]:
    """A run's figures: its kind, test bits per character, parameters, tokens per word and steps/s."""
    from core.probes.tokenview import tokenizer_summary
    from core.runs.checkpoint import load_checkpoint
    from core.runs.folder import checkpoint_path
    from tui.subcommands.evaluate import load_data_for

    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    ckpt = load_checkpoint(checkpoint_path(run))
    summary = tokenizer_summary(load_data_for(ckpt, None))
    o = ckpt.options
    kind = f"bpe {o.bpe_vocab:,}" if o.tokens == "bpe" else o.tokens
    return {"kind": kind, "bpc": metrics["measures"]["test"]["bpc"], "lower_bound": o.tokens == "words",
            "params": metrics["params"], "tokens_per_word": summary["tokens_per_word"],
            "steps_per_second": metrics["steps_per_second"], "steps": metrics["steps"], "run": run.name}


def table(rows: list[dict[str, object]]) -> str:
    """Markdown, as the README has it."""
    out = ["| tokens | test bits per character | parameters | tokens per word | steps/s | steps |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        mark = "*" if r["lower_bound"] else ""
        out.append(f"| {r['kind']} | {r['bpc']:.3f}{mark} | {r['params']:,} | {r['tokens_per_word']:.2f} "
                   f"| {r['steps_per_second']:,.0f} | {r['steps']:,} |")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=5.0, help="each row's budget (default 5)")
    p.add_argument("--rows", default=",".join(ROWS), help=f"which rows, of {', '.join(ROWS)}")
    p.add_argument("--runs-dir", type=Path, default=Path("runs-token-table"))
    p.add_argument("--data", default=None, help="running text (default: the preset's built-in kjv)")
    p.add_argument("--tabulate", nargs="+", type=Path, metavar="RUN", help="only tabulate these runs")
    args = p.parse_args()
    if args.tabulate:
        runs = args.tabulate
    else:
        unknown = [r for r in args.rows.split(",") if r not in ROWS]
        if unknown:
            raise SystemExit(f"token_table: unknown rows {', '.join(unknown)}; choose from {', '.join(ROWS)}")
        args.runs_dir.mkdir(parents=True, exist_ok=True)
        runs = [train(r, args.minutes, args.runs_dir, args.data) for r in args.rows.split(",")]
    print(table([row_of(run) for run in runs]))
    print("* a word model's bits per character are a lower bound: <unk> is given its spelling for free")


if __name__ == "__main__":
    main()
