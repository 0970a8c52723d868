"""assemble: the ID photo (3:4, 600×800, decoded no larger than needed)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from fixtures.pages import id_photo
from packager.assemble import make_photo
from packager.intake import scan_case
from packager.pages import describe_pages
from packager.profiles import load_system_profile

SYSTEM = load_system_profile()


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1200, 1600), (600, 800)),  # decoded at half scale straight to the target
        ((1201, 1599), (600, 800)),  # odd sizes: a pixel short after the scaled decode is rounded up
        ((3000, 4000), (600, 800)),  # phone portrait: 1/4 scale decode
        ((4000, 3000), (600, 800)),  # landscape: centre-cropped to 3:4
        ((2400, 2400), (600, 800)),
        ((450, 600), (450, 600)),  # smaller than the target: never enlarged
    ],
)
def test_photo_is_3_4_and_no_larger_than_needed(
    tmp_path: Path, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    buf = io.BytesIO()
    id_photo(seed=2, width_px=size[0], height_px=size[1]).save(buf, "JPEG", quality=92, dpi=(350, 350))
    (tmp_path / "photo.jpg").write_bytes(buf.getvalue())
    inp = scan_case(tmp_path, SYSTEM).inputs[0]
    page = describe_pages(inp, SYSTEM)[0]
    data = make_photo(page, SYSTEM.photo_width_px, SYSTEM.photo_height_px, SYSTEM.photo_jpeg_quality)
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == expected
        assert not im.getexif()


def test_a_document_has_the_id_of_what_it_is_made_of(tmp_path: Path) -> None:
    """The same pages and identity give the same bytes; another identity another permanent /ID."""
    import pikepdf

    from packager.assemble import assemble_pdf

    page = pikepdf.new()
    page.add_blank_page(page_size=(595, 842))
    one_page = io.BytesIO()
    page.save(one_page)

    def written(identity: bytes) -> bytes:
        out = io.BytesIO()
        assert assemble_pdf([one_page.getvalue()] * 2, "letter", out, identity) == 2
        return out.getvalue()

    first, again, other = written(b"a\t1"), written(b"a\t1"), written(b"a\t2")
    assert first == again
    ids = []
    for data in (first, other):
        with pikepdf.open(io.BytesIO(data)) as pdf:
            ids.append(bytes(pdf.trailer.ID[0]))
    assert ids[0] != ids[1] and len(ids[0]) == 16
