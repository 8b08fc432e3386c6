"""core.sizes: the one size formatter, in each of the forms the messages have always used."""

from __future__ import annotations

import pytest

from core.sizes import format_size

CASES = [
    (3 * 2**30, {"unit": "GiB"}, "3.0 GiB"),  # the model-size refusal (core/config.py): always GiB
    (2**29, {"unit": "GiB"}, "0.5 GiB"),
    (5 * 2**40, {}, "5.0 TiB"),  # the data loader's memory estimates (core/data.py): TiB down to KiB
    (1536 * 2**20, {}, "1.5 GiB"),
    (2**20, {}, "1.0 MiB"),
    (512, {}, "0.5 KiB"),
    (2 * 2**40, {"largest": "GiB", "smallest": "bytes"}, "2,048.0 GiB"),  # the file-size refusals (core.runs.files)
    (3 * 2**10 + 512, {"largest": "GiB", "smallest": "bytes"}, "3.5 KiB"),
    (1000, {"largest": "GiB", "smallest": "bytes"}, "1,000 bytes"),
    (0, {"largest": "GiB", "smallest": "bytes"}, "0 bytes"),
    (2**32, {"unit": "GiB", "decimals": 0}, "4 GiB"),  # the sampler's batch limit (core/probes/sample.py)
]


@pytest.mark.parametrize(("n", "kwargs", "text"), CASES, ids=[text for _, _, text in CASES])
def test_format_size_keeps_each_message_form(n, kwargs, text):
    assert format_size(n, **kwargs) == text


def test_the_file_refusal_says_the_size(tmp_path):
    from core.runs.files import FileRefused, read_regular

    f = tmp_path / "big"
    f.write_bytes(b"x" * 3000)
    with pytest.raises(FileRefused, match=r"^is 2\.9 KiB, more than the 1,000 bytes it can be$"):
        read_regular(f, 1000)
