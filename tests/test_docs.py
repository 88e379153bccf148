"""The repository explains itself: its docs exist, every docs/ page the code, notebooks and README
name is there, and nothing cites a document the repository does not contain."""
import re

from emolib.core.env import REPO

SOURCES = [*sorted((REPO / "emolib").rglob("*.py")), *sorted((REPO / "notebooks").glob("*.ipynb")),
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


def test_the_methods_page_quotes_the_benchmarks_as_written():
    import json

    page = (REPO / "docs" / "methods.md").read_text()
    for name in ("pretrain", "augment"):
        written = (REPO / "results" / f"bench_{name}.json").read_text().strip()
        assert json.loads(written)["benchmark"] == name
        assert f"results/bench_{name}.json" in page and written in page
    assert "bench_augment.json" in (REPO / "notebooks" / "02_augmentation_and_spectrograms.ipynb").read_text()


def test_every_generated_table_is_what_its_command_prints(tmp_path):
    from emolib.app import pages

    for page in (pages.README, pages.RESULTS_README, pages.ABLATION):
        assert pages.stale(page) == [], page  # the real run's rows, whatever the profile
    text = pages.README.read_text()
    copy = tmp_path / "README.md"
    copy.write_text(text.replace("| eGeMAPSv02 functionals", "| typed by hand"))
    assert pages.stale(copy, page=pages.README) == ["headline"]
    assert pages.update([copy], page=pages.README) == [f"{copy}: headline"] and copy.read_text() == text


def test_the_readme_is_a_front_door():
    text = (REPO / "README.md").read_text()
    assert len(text) <= 15_000
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("<!-- headline:"))
    end = next(i for i, line in enumerate(lines) if line.startswith("<!-- /headline"))
    assert end < 40 and end - start - 3 <= 12  # the headline table, at most 12 rows, on the first screen
    assert sum(line.startswith("|") for line in lines) <= 30  # the headline and the notebook path, no more
    assert "results/README.md" in text and "docs/" in text and "figures/" in text
    assert all(f"`{nb.stem}`" in text for nb in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")))
