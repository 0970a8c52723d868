"""The Japanese TrueType fonts every generated PDF embeds (as subsets).

Nothing packager writes may depend on the reader's installed fonts: a base-14 Helvetica
left in a cover sheet prints as tofu (or not at all) on a Japanese office's printer, and
PDF/A-minded readers flag it. reportlab embeds TrueType (glyf) outlines only; it cannot
embed CFF/OTF, so the IPAex fonts (TrueType, IPA Font License: embedding allowed) are used.

Search order: $PACKAGER_FONT_DIR, the Debian paths of fonts-ipaexfont-mincho/-gothic
(installed by scripts/setup.sh), then fontconfig (`fc-match`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

from packager.errors import OutputError

MINCHO = "IPAexMincho"  # body text
GOTHIC = "IPAexGothic"  # titles, labels, the stamp


@dataclass(frozen=True)
class _FontSpec:
    name: str
    file_name: str
    debian_package: str
    debian_path: str


_SPECS = {
    MINCHO: _FontSpec(
        MINCHO, "ipaexm.ttf", "fonts-ipaexfont-mincho", "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf"
    ),
    GOTHIC: _FontSpec(
        GOTHIC, "ipaexg.ttf", "fonts-ipaexfont-gothic", "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"
    ),
}


class FontMissing(OutputError):
    """A Japanese font needed to write the forms cannot be found or embedded."""


def _fc_match(family: str) -> Path | None:
    if shutil.which("fc-match") is None:
        return None
    try:
        done = subprocess.run(
            ["fc-match", "-f", "%{family}\t%{file}", f"{family}:style=Regular"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    families, _, file_name = done.stdout.partition("\t")
    # fc-match always answers with *some* font (DejaVu Sans when IPAex is absent).
    if done.returncode != 0 or family.lower() not in families.lower().replace(" ", ""):
        return None
    return Path(file_name) if file_name else None


def find_font_file(name: str) -> Path:
    """The TrueType file of font `name` (MINCHO or GOTHIC); FontMissing names the fix."""
    spec = _SPECS[name]
    tried: list[str] = []
    override = os.environ.get("PACKAGER_FONT_DIR")
    if override:
        candidate = Path(override) / spec.file_name
        if candidate.is_file():
            return candidate
        tried.append(str(candidate))
    candidate = Path(spec.debian_path)
    if candidate.is_file():
        return candidate
    tried.append(str(candidate))
    matched = _fc_match(spec.name)
    if matched is not None and matched.is_file():
        return matched
    tried.append(f"fc-match {spec.name}")
    raise FontMissing(
        f"Japanese font {spec.name} not found (tried {', '.join(tried)}): install the Debian package "
        f"{spec.debian_package} (scripts/setup.sh does), or set PACKAGER_FONT_DIR to a folder holding {spec.file_name}"
    )


@cache
def register_fonts() -> tuple[str, str]:
    """Register both fonts with reportlab once; returns (MINCHO, GOTHIC)."""
    for name in (MINCHO, GOTHIC):
        path = find_font_file(name)
        try:
            pdfmetrics.registerFont(TTFont(name, str(path)))
        except (TTFError, OSError) as e:
            spec = _SPECS[name]
            raise FontMissing(
                f"{path}: cannot embed font {name} ({e}); install {spec.debian_package} (TrueType outlines)"
            ) from e
    # Markup such as <b> must never fall back to Helvetica-Bold: map the family to itself.
    pdfmetrics.registerFontFamily(MINCHO, normal=MINCHO, bold=GOTHIC, italic=MINCHO, boldItalic=GOTHIC)
    pdfmetrics.registerFontFamily(GOTHIC, normal=GOTHIC, bold=GOTHIC, italic=GOTHIC, boldItalic=GOTHIC)
    return MINCHO, GOTHIC


def missing_glyphs(text: str, name: str = GOTHIC) -> str:
    """The characters of `text` font `name` has no glyph for (they would print as boxes)."""
    register_fonts()
    font = pdfmetrics.getFont(name)
    cmap = font.face.charToGlyph
    missing = []
    for ch in text:
        if ch not in missing and not ch.isspace() and ord(ch) not in cmap:
            missing.append(ch)
    return "".join(missing)
