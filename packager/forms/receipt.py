"""The application receipt number (申請受付番号), as the ISA issues it.

It is free text: full-width and half-width letters and digits, kanji and kana occur
(`福オンＥＮ25001878`). packager prints it exactly as given — no NFKC folding, no case
change — because the number on paper must match the one the bureau looks up.
"""

from __future__ import annotations

import unicodedata

from packager.errors import StampError

MAX_RECEIPT_CHARS = 40

# Cc: C0/C1 controls (tab, newline, NUL …); Cf: invisible format characters (zero-width
# space, bidi overrides) that would make the printed number differ from what was typed;
# Cs/Co/Cn: surrogates, private-use and unassigned code points no font can print.
_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_LINE_SEPARATORS = {"\u2028", "\u2029"}


def validate_receipt(text: str) -> str:
    """The receipt number to print: `text` without surrounding whitespace, else StampError."""
    receipt = text.strip()
    if not receipt:
        raise StampError("the receipt number is empty: pass --receipt with the number shown after filing online")
    if len(receipt) > MAX_RECEIPT_CHARS:
        raise StampError(
            f"the receipt number is {len(receipt)} characters long, more than {MAX_RECEIPT_CHARS}: "
            "check that --receipt holds only the number"
        )
    for ch in receipt:
        if unicodedata.category(ch) in _FORBIDDEN_CATEGORIES or ch in _LINE_SEPARATORS:
            raise StampError(
                f"the receipt number contains the control character U+{ord(ch):04X}: retype it without it"
            )
    return receipt
