"""Translated editions: every markdown cell translated, code and outputs identical to the English notebook,
the committed build up to date, and the translated notebooks never run twice by nbval."""
from __future__ import annotations

import tomllib
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from vidgen_lib.course import (build_translations, read_translations, translated_notebook, untranslated_cells,
                               write_translations)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
TRANSLATION_FILES = sorted((NOTEBOOK_DIR / "zh" / "translations").glob("*.md"))


def english() -> nbformat.NotebookNode:
    code = new_code_cell("print(1 + 1)", execution_count=1,
                         outputs=[new_output("stream", name="stdout", text="2\n")])
    return new_notebook(cells=[new_markdown_cell("# Title\n\nSee ![the model](figures/model.svg)."), code,
                               new_markdown_cell("Two lines,\n\nwith $x_t$ and `code`.")])


def test_translation_files_round_trip_and_a_build_swaps_only_the_markdown(tmp_path):
    pairs = [("# Title\n\nSee ![the model](figures/model.svg).", "# 标题\n\n见 ![模型](figures/model.svg)。"),
             ("Two lines,\n\nwith $x_t$ and `code`.", "两行，\n\n含 $x_t$ 与 `code`。")]
    write_translations(tmp_path / "01_x.md", pairs, "zh")
    translations = read_translations(tmp_path / "01_x.md")
    assert translations == dict(pairs)
    nb = english()
    zh = translated_notebook(nb, translations, "zh")
    assert zh.cells[0].source == "# 标题\n\n见 ![模型](../figures/model.svg)。"  # as seen from notebooks/zh/
    assert zh.cells[1] == nb.cells[1] and zh.metadata["language"] == "zh"
    assert nb.cells[0].source.startswith("# Title")  # the English notebook is left as it was


def test_a_missing_translation_is_named_and_update_adds_it(tmp_path):
    (tmp_path / "zh" / "translations").mkdir(parents=True)
    nbformat.write(english(), tmp_path / "01_x.ipynb")
    stale = [("# Title", "# 旧标题")]  # a cell the English notebook no longer has
    write_translations(tmp_path / "zh" / "translations" / "01_x.md", stale, "zh")
    with pytest.raises(ValueError, match=r"01_x: 2 markdown cell\(s\) without a zh translation.*cell 0"):
        build_translations(tmp_path, "zh")
    assert build_translations(tmp_path, "zh", update=True) == []  # the file now lists both cells, empty
    translations = read_translations(tmp_path / "zh" / "translations" / "01_x.md")
    assert list(translations) == [c.source for c in english().cells if c.cell_type == "markdown"]
    assert untranslated_cells(english(), translations) == [0, 2]


@pytest.mark.parametrize("path", TRANSLATION_FILES, ids=lambda p: p.stem)
def test_every_markdown_cell_is_translated_and_the_build_is_up_to_date(path):
    source = nbformat.read(NOTEBOOK_DIR / f"{path.stem}.ipynb", as_version=4)
    translations = read_translations(path)
    assert untranslated_cells(source, translations) == [], "run `python -m vidgen_lib translate --update`"
    built = NOTEBOOK_DIR / "zh" / f"{path.stem}.ipynb"
    assert built.exists(), "run `python -m vidgen_lib translate`"
    committed = nbformat.read(built, as_version=4)
    assert committed == translated_notebook(source, translations, "zh", path.stem), (
        f"{built.name} is out of date: run `python -m vidgen_lib translate`")
    for en, zh in zip(source.cells, committed.cells):
        assert en.cell_type == zh.cell_type
        if en.cell_type == "code":
            assert zh == en  # same code, same outputs: tested once, in English


def test_translated_notebooks_are_not_collected_twice():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--ignore=notebooks/zh" in options["addopts"]
