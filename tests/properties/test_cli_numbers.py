"""The command line's number arguments: any text gives a number in range or
argparse's one-line error, never another exception; the numbers that broke
the app (issue 13) are refused with one line and exit 2."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnviz.cli import common
from nnviz.cli import main as cli_main

NUMBER_TYPES = (
    common.positive_int,
    common.nonnegative_int,
    common.thread_count,
    common.positive_float,
    common.layer_sizes,
    common.size_arg,
)

numberish = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False).map(repr),
    st.lists(st.integers(-(2**40), 2**40), max_size=40).map(lambda v: ",".join(map(str, v))),
    st.tuples(st.integers(-(2**40), 2**40), st.integers(-(2**40), 2**40)).map(
        lambda wh: f"{wh[0]}x{wh[1]}"
    ),
)


@settings(max_examples=300, deadline=None)
@given(text=numberish)
def test_number_types_give_a_value_in_range_or_an_argparse_error(text):
    for parse in NUMBER_TYPES:
        try:
            value = parse(text)
        except argparse.ArgumentTypeError as exc:
            assert "\n" not in str(exc)
            continue
        if parse is common.positive_int:
            assert 1 <= value <= common.MAX_INT
        elif parse is common.nonnegative_int:
            assert 0 <= value <= common.MAX_INT
            torch.Generator().manual_seed(value)  # every accepted seed seeds torch
        elif parse is common.thread_count:
            assert 1 <= value <= common.MAX_THREADS
        elif parse is common.positive_float:
            assert 0 < value <= common.MAX_FLOAT
            # an accepted learning rate fits torch's float32 (the optimizer's alpha)
            assert torch.isfinite(torch.tensor(value, dtype=torch.float32))
        elif parse is common.layer_sizes:
            assert len(value) <= 32 and all(1 <= s <= 4096 for s in value)
        else:
            assert all(64 <= s <= 8192 for s in value)


def test_a_seed_the_seed_box_holds_is_accepted_and_one_more_is_refused():
    # the app's seed box (a 32-bit QSpinBox) holds 0..2**31-1
    assert common.nonnegative_int("2147483647") == 2**31 - 1
    with pytest.raises(argparse.ArgumentTypeError, match="2147483647"):
        common.nonnegative_int("2147483648")


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "xor", "--seed", "2147483648"],
        ["train", "xor", "--seed", str(2**64)],
        ["train", "xor", "--lr", "1e38"],
        ["train", "xor", "--lr", "1e308"],
        ["train", "xor", "--threads", "100000"],
        ["open", "xor", "--seed", "2147483648"],
        ["render", "xor", "--out", "x.png", "--seed", str(2**64)],
        ["train", "xor", "--hidden", ",".join(["8"] * 40)],
    ],
)
def test_numbers_out_of_range_are_one_line_and_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("nnviz: error:")
    assert "Traceback" not in "\n".join(err)


def test_the_largest_learning_rate_accepted_trains_or_says_what_to_do():
    """1e6 is accepted; training on it ends in a result or the NaN message
    (one line, exit 2), never a torch traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "nnviz", "train", "xor", "--lr", "1e6", "--steps", "50"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in (0, 2), proc.stderr
    assert "Traceback" not in proc.stderr
    if proc.returncode == 2:
        assert len(proc.stderr.strip().splitlines()) == 1
