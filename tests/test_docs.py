"""Docs stay inside the repository: links resolve in a clone, citations name real sections."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")
CITATION = re.compile(r"docs/background\.md, ([A-Z][A-Za-z' -]+?)[).]")
OUTSIDE = re.compile(r"\.\./shared|\b(REFERENCE|DESIGN|STYLE)\.md")


def _tracked(*patterns: str) -> list[Path]:
    listing = subprocess.run(
        ["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [ROOT / line for line in listing.splitlines() if (ROOT / line).exists()]


def _markdown_files():
    return _tracked("*.md")


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    broken = []
    for target in LINK.findall(path.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # URLs and in-page anchors
        if not (path.parent / target.split("#")[0]).exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)} links to missing files: {broken}"


def test_nothing_points_outside_the_repository():
    offenders = []
    for path in _tracked("*.py", "*.md", "*.ipynb", "*.toml", ".ci/*"):
        if path.name == "test_docs.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_citations_of_the_background_page_name_its_sections():
    headings = {
        line.lstrip("#").strip()
        for line in (ROOT / "docs" / "background.md").read_text().splitlines()
        if line.startswith("#")
    }
    missing = []
    for path in _tracked("*.py", "*.md"):
        for section in CITATION.findall(path.read_text()):
            if section not in headings:
                missing.append(f"{path.relative_to(ROOT)}: {section!r}")
    assert not missing, f"sections not in docs/background.md {sorted(headings)}: {missing}"
