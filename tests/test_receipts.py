"""receipts: receipt.txt read as people write it; the outcome recorded once per receipt."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from packager import receipts
from packager.errors import PackagerError, StampError


def _drop(folder: Path, text: str) -> str:
    folder.mkdir(exist_ok=True)
    (folder / receipts.RECEIPT_NAME).write_text(text, encoding="utf-8")
    return hashlib.sha256((folder / receipts.RECEIPT_NAME).read_bytes()).hexdigest()


def test_first_non_blank_line_without_bom(tmp_path: Path) -> None:
    _drop(tmp_path, "\ufeff\n  福オンＥＮ25001878  \nnote\n")
    assert receipts.read_receipt(tmp_path) == "福オンＥＮ25001878"


def test_empty_receipt_is_a_one_line_error(tmp_path: Path) -> None:
    _drop(tmp_path, " \n\n")
    with pytest.raises(PackagerError, match="empty"):
        receipts.read_receipt(tmp_path)


def test_stamped_once_then_only_a_change_restamps(tmp_path: Path) -> None:
    digest = _drop(tmp_path, "福オンＥＮ25001878\n")
    calls: list[str] = []
    done = receipts.stamp_from_receipt(tmp_path, digest, lambda out, r: calls.append(r))
    assert done.ok and calls == ["福オンＥＮ25001878"]
    assert receipts.already_handled(tmp_path, digest)
    assert not receipts.already_handled(tmp_path, _drop(tmp_path, "福オンＥＮ25009999\n"))


def test_failure_is_written_beside_the_receipt_and_cleared_by_success(tmp_path: Path) -> None:
    digest = _drop(tmp_path, "oops\n")

    def refuse(out: Path, receipt: str) -> None:
        raise StampError(f"{receipt}: not a receipt\nnumber")

    done = receipts.stamp_from_receipt(tmp_path, digest, refuse)
    assert not done.ok and done.reason == "oops: not a receipt number"
    assert receipts.receipt_error(tmp_path) == "oops: not a receipt number"
    assert receipts.already_handled(tmp_path, digest)  # not retried until the receipt changes
    digest = _drop(tmp_path, "福オンＥＮ25001878\n")
    assert receipts.stamp_from_receipt(tmp_path, digest, lambda out, r: None).ok
    assert receipts.receipt_error(tmp_path) is None
