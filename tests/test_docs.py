"""The project's documents stand on their own and say what the code does."""

from __future__ import annotations

from pathlib import Path

from packager.profiles import load_system_profile

ROOT = Path(__file__).resolve().parents[1]


def _project_texts() -> list[Path]:
    return [
        p
        for pattern in ("*.md", "docs/**/*.md", "profiles/**/*.toml", "packager/**/*.py")
        for p in ROOT.glob(pattern)
        if "build" not in p.parts
    ]


def test_docs_do_not_point_outside_the_project() -> None:
    """A user's clone has no ../shared: the facts the project relies on are in docs/."""
    outside = [str(p.relative_to(ROOT)) for p in _project_texts() if "shared/DESIGN" in p.read_text("utf-8")]
    assert outside == []
    facts = (ROOT / "docs" / "online-system.md").read_text("utf-8")
    for fact in ("25,000,000 bytes", "200 dpi", "ISO 32000-1", "moj.go.jp/isa", "photo_info_00002", "申請受付番号"):
        assert fact in facts, fact


def test_readme_dpi_statement_matches_the_profile() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    system = load_system_profile()
    assert f"pixels decoded at ≤ {system.max_dpi} dpi" in readme
    assert "keeps all its pixels" in readme  # the phone-photo exception is stated, as encode does it
