"""The repository explains itself: its docs exist, every docs/ page the code, notebooks and README
name is there, and nothing cites a document the repository does not contain."""
import re

from emolib.config import REPO

SOURCES = [*sorted((REPO / "emolib").glob("*.py")), *sorted((REPO / "notebooks").glob("*.ipynb")),
           REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_every_docs_page_named_exists():
    named = set()
    for path in SOURCES:
        text = path.read_text()
        named |= set(re.findall(r"docs/([a-z_]+\.md)", text))
        if path.parent.name == "docs":  # links between the pages
            named |= set(re.findall(r"\]\(([a-z_]+\.md)\)", text))
    assert {"protocol.md", "data.md", "design.md"} <= named
    missing = sorted(n for n in named if not (REPO / "docs" / n).is_file())
    assert not missing, missing


def test_no_reference_to_an_outside_guide():
    cited = [p.relative_to(REPO) for p in SOURCES if re.search(r"GUIDE\s*§|GUIDE\.md", p.read_text())]
    assert not cited, cited


def test_readme_quotes_the_pretrain_benchmark_as_written():
    import json

    written = (REPO / "results" / "bench_pretrain.json").read_text().strip()
    readme = (REPO / "README.md").read_text()
    assert "results/bench_pretrain.json" in readme and written in readme
    assert json.loads(written)["benchmark"] == "pretrain"


def test_readme_and_notebook_02_quote_the_augment_benchmark_as_written():
    import json

    written = (REPO / "results" / "bench_augment.json").read_text().strip()
    assert json.loads(written)["benchmark"] == "augment"
    assert "results/bench_augment.json" in (REPO / "README.md").read_text() and written in (REPO / "README.md").read_text()
    nb = (REPO / "notebooks" / "02_augmentation_and_spectrograms.ipynb").read_text()
    assert "bench_augment.json" in nb


def test_readme_tables_are_generated_from_the_rows(tmp_path):
    from emolib import readme

    text = (REPO / "README.md").read_text()
    assert readme.stale(text) == []  # the real run's rows, whatever the profile
    copy = tmp_path / "README.md"
    copy.write_text(text.replace("| **all timed notebooks** |", "| **typed by hand** |"))
    assert readme.stale(copy.read_text()) == ["timings"]
    assert readme.update(copy) == ["timings"] and copy.read_text() == text
