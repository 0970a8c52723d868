"""packager.forms.receipt: the receipt number is free text, printed exactly as given."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from packager.errors import ExitCode, StampError
from packager.forms.receipt import MAX_RECEIPT_CHARS, validate_receipt

# What an ISA receipt number is made of: kanji, kana, full- and half-width letters and digits.
_PRINTABLE = st.characters(
    categories=("Lu", "Ll", "Lo", "Nd", "Pd", "Po", "Sm"),  # letters (kanji/kana are Lo), digits, - / etc.
    exclude_characters="\u2028\u2029",
)
receipts = st.text(_PRINTABLE, min_size=1, max_size=MAX_RECEIPT_CHARS)


@pytest.mark.parametrize(
    "text",
    ["福オンＥＮ25001878", "東オン2500001234", "ABC-123", "名古屋オンＬＴ２５０１２３４５", "大オン　ＥＮ２５"],
)
def test_real_looking_numbers_are_printed_exactly(text: str) -> None:
    assert validate_receipt(text) == text


def test_only_surrounding_whitespace_is_stripped() -> None:
    assert validate_receipt("  福オンＥＮ25001878\n") == "福オンＥＮ25001878"
    assert validate_receipt("\u3000福オン ＥＮ25\u3000") == "福オン ＥＮ25"  # ideographic space too, inner kept


@given(receipts)
def test_any_printable_text_up_to_the_limit_is_kept_verbatim(text: str) -> None:
    assume(text.strip())
    assert validate_receipt(text) == text.strip()


_SPACES = st.text(st.sampled_from(" \t\n\u3000"), max_size=3)


@given(receipts, _SPACES, _SPACES)
def test_surrounding_whitespace_never_changes_the_number(text: str, before: str, after: str) -> None:
    assume(text.strip())
    assert validate_receipt(before + text + after) == text.strip()


@given(receipts)
def test_no_character_is_altered(text: str) -> None:
    assume(text.strip())
    assert validate_receipt(text) in text  # a slice of the input: nothing folded or replaced


def test_full_width_is_not_folded() -> None:
    # NFKC would turn ＥＮ２５ into EN25, and the bureau looks the number up as issued.
    kept = validate_receipt("福オンＥＮ２５００１８７８")
    assert kept == "福オンＥＮ２５００１８７８"
    assert kept != unicodedata.normalize("NFKC", kept)


@given(st.text(st.sampled_from(" \t\n\r\u3000"), max_size=10))
def test_empty_is_refused(text: str) -> None:
    with pytest.raises(StampError, match="empty") as e:
        validate_receipt(text)
    assert e.value.exit_code == ExitCode.STAMP_ERROR


@given(st.text(_PRINTABLE, min_size=MAX_RECEIPT_CHARS + 1, max_size=MAX_RECEIPT_CHARS + 30))
def test_longer_than_the_limit_is_refused(text: str) -> None:
    if len(text.strip()) > MAX_RECEIPT_CHARS:
        with pytest.raises(StampError, match=str(MAX_RECEIPT_CHARS)):
            validate_receipt(text)


@given(receipts, st.characters(categories=("Cc", "Cf")), st.integers(min_value=0, max_value=40))
def test_control_characters_inside_are_refused(text: str, control: str, where: int) -> None:
    where = min(where, len(text))
    candidate = "福" + text[:where] + control + text[where:] + "8"
    if len(candidate) > MAX_RECEIPT_CHARS:
        return
    with pytest.raises(StampError, match="control character") as e:
        validate_receipt(candidate)
    assert "\n" not in str(e.value)


def test_error_messages_are_one_line() -> None:
    for bad in ("", "x" * 41, "福\x00オン", "福\u200bオン"):
        with pytest.raises(StampError) as e:
            validate_receipt(bad)
        assert "\n" not in str(e.value)
