"""Which texts are integers as ``int()`` reads them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twinops.digits import is_ascii_integer
from twinops.errors import InvalidInput
from twinops.models.entities import split_dtmi


@given(st.text(max_size=8))
def test_a_text_taken_as_an_integer_is_one_int_reads(text: str) -> None:
    if is_ascii_integer(text):
        assert int(text) >= 0
    else:
        assert not text or not text.isascii() or not text.isdigit()


def test_superscript_and_other_script_digits_are_not_ascii_integers() -> None:
    assert [is_ascii_integer(t) for t in ("12", "²", "١٢", "", "-1")] == [
        True,
        False,
        False,
        False,
        False,
    ]


def test_a_dtmi_versioned_with_a_superscript_is_an_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        split_dtmi("dtmi:twinops:example:Pump;²")
