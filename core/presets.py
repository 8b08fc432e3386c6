"""The presets: named sets of settings, in the registry's names (core.settings re-exports them). Data only."""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    "lecture": {},
    "kaiming": {"init": "kaiming"},
    # makemore part 3: five hidden layers of 100, each Linear (no bias) -> batch norm -> tanh, batch-normed logits
    "part3": {"layers": 5, "n_hidden": 100, "batchnorm": True, "bn_out": True, "init": "kaiming",
              "decay_at": 150_000},
    # makemore part 5: the hierarchical model (76,579 parameters on 27 characters)
    "wavenet": {"arch": "hier", "block_size": 8, "n_embd": 24, "n_hidden": 128, "batchnorm": True,
                "init": "kaiming", "decay_at": 150_000},
    # the seed of the lecture: 2-dimensional embeddings, drawn as raw coordinates in the embedding map
    "tiny": {"block_size": 3, "n_embd": 2, "n_hidden": 100},
    # four copies of `single` (emb 24, hidden 512 each) trained side by side, a core for two: an ensemble
    "best": {
        "block_size": 12, "n_embd": 96, "n_hidden": 2048, "members": 4, "init": "kaiming",
        "batch_size": 32, "optimizer": "adamw", "lr": 1.4e-3, "lr_decay": 0.01, "weight_decay": 0.01,
        "dropout": 0.1, "schedule": "cosine", "warmup": 500, "keep_best": True,
    },
    "single": {
        "block_size": 12, "n_embd": 24, "n_hidden": 512, "init": "kaiming",
        "batch_size": 32, "optimizer": "adamw", "lr": 1.4e-3, "lr_decay": 0.01, "weight_decay": 0.01,
        "dropout": 0.2, "schedule": "cosine", "warmup": 500, "keep_best": True,
    },
    # Bengio et al. 2003's MLP1 on words of running text: context 4 words, m 60, h 50, direct connections; the
    # built-in King James Bible unless --data names another text. Its optimiser is a start (AdamW, dropout, cosine
    # over a time budget); the paper's own recipe is recipes/bengio-paper.toml.
    "bengio": {
        "data": "kjv", "format": "text", "tokens": "words", "min_count": 4,
        "block_size": 4, "n_embd": 60, "n_hidden": 50, "direct": True, "init": "kaiming",
        "batch_size": 256, "optimizer": "adamw", "lr": 2e-3, "lr_decay": 0.01, "weight_decay": 0.1,
        "dropout": 0.3, "schedule": "cosine", "warmup": 200, "minutes": 20.0, "keep_best": True,
    },
}


PRESET_NOTES: dict[str, str] = {
    "lecture": "the defaults: makemore part 2's model and recipe",
    "kaiming": "lecture + kaiming init",
    "part3": "makemore part 3: 5 hidden layers of 100 with batch norm, batch-normed logits",
    "wavenet": "makemore part 5: the hierarchical model, block 8, emb 24, hidden 128, batch norm",
    "tiny": "the lecture's first model: block 3, 2-dimensional embeddings, hidden 100 (3,481 parameters)",
    "best": "the best 5-minute recipe found on 2 cores: 4 members of `single` averaged (an ensemble as one MLP)",
    "single": "the best single MLP in 5 minutes on one core (block 12, emb 24, hidden 512, AdamW, dropout, cosine)",
    "bengio": "Bengio et al. 2003 on words: running text (the built-in kjv unless --data), context 4 words, m 60, "
              "h 50, direct connections; AdamW, dropout, cosine over 20 minutes",
}


