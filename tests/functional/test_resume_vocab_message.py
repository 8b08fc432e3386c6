"""A run resumed on a changed file whose vocabulary kept its size says which token differs (it said 18 ... (18))."""
import pytest

from core.data import Dataset
from core.errors import CheckpointError
from core.runs.checkpoint import resume_trainer


def test_same_size_vocab_names_the_differing_token(trained_run, tmp_path):
    from core.runs.checkpoint import load_checkpoint

    ckpt = load_checkpoint(trained_run[1] / "model.pt")
    words = tmp_path / "w.txt"
    itos = list(ckpt.vocab.itos)
    words.write_text("\n".join("".join(reversed(itos[1:])) for _ in range(20)) + "\n")
    data = Dataset.load(str(words), block_size=ckpt.model_config.block_size)
    data.vocab = type(data.vocab)(tuple([itos[0], *reversed(itos[1:])]))
    with pytest.raises(CheckpointError) as e:
        resume_trainer(ckpt, data)
    msg = str(e.value)
    assert f"({len(itos)} too, but token 1 is " in msg and "the file has changed" in msg, msg
