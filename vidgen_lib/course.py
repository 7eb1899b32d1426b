"""Course tooling: the student edition of the notebooks, and executing notebooks to commit them.

Solutions live in code cells tagged ``solution``, between nbgrader's markers::

    # Exercise 1.1: the optimal discriminator
    def optimal_discriminator(x, p_data, p_g):
        ### BEGIN SOLUTION
        return p_data(x) / (p_data(x) + p_g(x))
        ### END SOLUTION

The student edition replaces each marked block with
``raise NotImplementedError("Exercise 1.1: the optimal discriminator")`` at the marker's indentation
and clears that cell's outputs; every other cell stays as it is.
"""
from __future__ import annotations

import copy
import json
import re
import shutil
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SOLUTION_TAG = "solution"
EXERCISE_HEADER = re.compile(r"^#\s*Exercise\s+(\d+\.\d+)\s*:\s*(\S.*?)\s*$")
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


def exercise_header(source: str) -> tuple[str, str] | None:
    """The ``(id, title)`` of a cell whose first line is ``# Exercise N.M: <title>``, else ``None``."""
    match = EXERCISE_HEADER.match(source.split("\n", 1)[0])
    return (match.group(1), match.group(2)) if match else None


def strip_solutions(source: str, message: str) -> str:
    """Replace each block between the solution markers with ``raise NotImplementedError(message)``."""
    out: list[str] = []
    inside = False
    for line in source.split("\n"):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ValueError(f"nested {BEGIN!r} in the exercise {message!r}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}raise NotImplementedError({json.dumps(message, ensure_ascii=False)})")
        elif marker == END:
            if not inside:
                raise ValueError(f"{END!r} without {BEGIN!r} in the exercise {message!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN!r} without {END!r} in the exercise {message!r}")
    return "\n".join(out)


def student_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A copy of ``nb`` with its solutions replaced by stubs, their outputs cleared, widget state removed."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for i, cell in enumerate(nb.cells):
        where = f"{name}, cell {i}"
        if SOLUTION_TAG not in cell.get("metadata", {}).get("tags", []):
            if BEGIN in cell.source or END in cell.source:
                raise ValueError(f"{where}: solution markers in a cell not tagged '{SOLUTION_TAG}'")
            continue
        if cell.cell_type != "code" or BEGIN not in cell.source:
            raise ValueError(f"{where}: a '{SOLUTION_TAG}' cell must be a code cell "
                             f"with {BEGIN!r} ... {END!r}")
        header = exercise_header(cell.source)
        if header is None:
            first = cell.source.split("\n", 1)[0]
            raise ValueError(f"{where}: a solution cell must start with '# Exercise N.M: <title>', "
                             f"not {first!r}")
        cell.source = strip_solutions(cell.source, f"Exercise {header[0]}: {header[1]}")
        cell.outputs = []
        cell.execution_count = None
    return nb


def build_student_edition(src_dir: Path, out_dir: Path) -> list[Path]:
    """Write the student edition of every ``NN_*.ipynb`` in ``src_dir`` to ``out_dir``, with the
    ``figures/`` folder beside them; returns the new notebooks' paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if (Path(src_dir) / "figures").is_dir():  # the diagrams the notebooks' markdown shows
        shutil.copytree(Path(src_dir) / "figures", out_dir / "figures", dirs_exist_ok=True)
    written = []
    for path in sorted(Path(src_dir).glob(NOTEBOOK_GLOB)):
        nb = student_notebook(nbformat.read(path, as_version=4), path.name)
        nbformat.write(nb, out_dir / path.name)
        written.append(out_dir / path.name)
    return written


def run_notebook(nb: nbformat.NotebookNode, folder: Path, timeout: int = 600,
                 allow_errors: bool = False) -> float:
    """Execute ``nb`` in place, top to bottom, with ``folder`` as its working directory; returns wall seconds.

    ``timeout`` is per cell. With ``allow_errors`` a failing cell records its error and the run goes on.
    The kernel logs errors only: its start-up warning about TCP on localhost says nothing about the
    notebook and would land in the middle of the caller's output (the bench table, say).
    """
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(folder)}},
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


PROGRESS_BAR = re.compile(r"^[^|]*\d+%\|")  # tqdm's text: "training:   0%|          | 0/40 [...]"


def is_progress_bar(output: dict) -> bool:
    """Whether a cell output is a tqdm progress bar drawn as a widget."""
    data = output.get("data", {})
    return ("application/vnd.jupyter.widget-view+json" in data
            and bool(PROGRESS_BAR.match(data.get("text/plain", ""))))


def execute_notebook(path: Path, timeout: int = 600) -> float:
    """Run a notebook top to bottom in its own folder and save it with outputs; returns wall seconds.

    Saved widget state (``metadata.widgets``) is removed: it stops notebooks rendering on code hosts.
    Progress bars are not saved: a saved bar shows only its first frame ("0/1000"), while a learner
    running the notebook sees it move. If a cell fails, nbclient's ``CellExecutionError`` propagates and
    the file is left unchanged.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    seconds = run_notebook(nb, path.parent, timeout)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [out for out in cell.outputs if not is_progress_bar(out)]
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return seconds


# --- grading -------------------------------------------------------------------------------------

GRADE_COLUMNS = ("student", "notebook", "exercise", "status", "points", "max_points", "message")

#: Run first in every graded notebook: Python code may only connect to this machine (a submission must
#: not download anything, and its result must not depend on the network).
NETWORK_GUARD = """import socket as _socket


def _local_only(self, address, _connect=_socket.socket.connect):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and host not in ("localhost", "127.0.0.1", "::1") and not host.startswith("/"):
        raise OSError(f"grading runs without network: no connection to {host!r}")
    return _connect(self, address)


_socket.socket.connect = _local_only
del _local_only"""


def _cell_text(cell: nbformat.NotebookNode) -> str:
    outputs = cell.get("outputs", [])
    return "".join(out.get("text", "") for out in outputs if out.get("output_type") == "stream")


def _cell_error(cell: nbformat.NotebookNode) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            lines = (out.get("evalue") or "").splitlines()
            return f"{out.get('ename')}: {lines[0] if lines else ''}"
    return None


def exercise_results(nb: nbformat.NotebookNode) -> list[dict]:
    """The result of every exercise of an *executed* notebook, in order.

    An exercise is a ``solution`` cell; its check runs in that cell or in the code cell right after it
    (an nbgrader check cell, whose ``metadata.nbgrader.points`` sets its points, default 1). Status:
    ``passed`` (the check printed its ✓ line), ``not done`` (the stub was left: "not done yet"),
    ``failed`` (an error, with its message) or ``not run`` (no output: the run stopped before it).
    """
    results = []
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for i, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        header = exercise_header(cell.source) if SOLUTION_TAG in tags else None
        if header is None:
            continue
        exercise = header[0]
        cells = [cell] + [nb.cells[j] for j in code if j > i][:1]
        graded = cells[-1].get("metadata", {}).get("nbgrader", {}).get("grade")
        check_cell = cells[-1] if graded else cell
        points = float(check_cell.get("metadata", {}).get("nbgrader", {}).get("points", 1))
        text = "".join(_cell_text(c) for c in cells)
        error = next((e for e in map(_cell_error, cells) if e), None)
        if f"✓ Exercise {exercise} passed" in text:
            status, message = "passed", ""
        elif f"Exercise {exercise}: not done yet" in text or (error and "is not implemented yet" in error):
            status, message = "not done", ""
        elif error:
            status, message = "failed", error
        else:
            status, message = "not run", "the notebook stopped before this exercise's check"
        results.append({"exercise": exercise, "status": status, "max_points": points, "message": message,
                        "points": points if status == "passed" else 0.0})
    return results


def grade_submissions(folder: Path, notebook_dir: Path, timeout: int = 600) -> list[dict]:
    """Execute every submitted notebook and collect one row per student and exercise.

    ``folder`` holds one sub-folder per student with their ``NN_*.ipynb`` files. Each notebook runs in
    ``notebook_dir`` (the course's notebooks folder: its figures and relative paths), with a time limit
    of ``timeout`` seconds per cell, without network (``NETWORK_GUARD`` runs first), and goes on after a
    failing cell so every check gets its chance. Rows have the keys ``GRADE_COLUMNS``.
    """
    rows = []
    for student in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        for path in sorted(student.glob(NOTEBOOK_GLOB)):
            nb = nbformat.read(path, as_version=4)
            nb.cells.insert(0, nbformat.v4.new_code_cell(NETWORK_GUARD))
            try:
                run_notebook(nb, notebook_dir, timeout, allow_errors=True)
            except Exception as err:  # a kernel that dies or a cell past the time limit: grade what ran
                print(f"{student.name}/{path.name}: stopped early ({type(err).__name__})")
            nb.cells.pop(0)
            for result in exercise_results(nb):
                rows.append({"student": student.name, "notebook": path.name, **result})
    return rows


# --- translated editions -------------------------------------------------------------------------
# A translated notebook is the executed English notebook with each markdown cell swapped for its
# translation, so code and outputs never fork (and are tested once, in English). Translations live in
# ``notebooks/<lang>/translations/<notebook>.md`` as pairs of English and translated text.

PAIR = re.compile(r"<!-- en -->\n(.*?)\n<!-- (\w+(?:-\w+)?) -->\n(.*?)\n<!-- end -->", re.DOTALL)


def read_translations(path: Path) -> dict[str, str]:
    """English markdown -> its translation, read from a file of ``<!-- en -->``, ``<!-- lang -->``,
    ``<!-- end -->`` pairs."""
    return {en: translated for en, _, translated in PAIR.findall(Path(path).read_text(encoding="utf-8"))}


def write_translations(path: Path, pairs: list[tuple[str, str]], lang: str) -> None:
    """Write ``(english, translation)`` pairs in the format ``read_translations`` reads."""
    blocks = [f"<!-- en -->\n{en}\n<!-- {lang} -->\n{translated}\n<!-- end -->" for en, translated in pairs]
    Path(path).write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


def untranslated_cells(nb: nbformat.NotebookNode, translations: dict[str, str]) -> list[int]:
    """Indices of the markdown cells of ``nb`` that have no (non-empty) translation."""
    return [i for i, cell in enumerate(nb.cells)
            if cell.cell_type == "markdown" and not translations.get(cell.source, "").strip()]


def translated_notebook(nb: nbformat.NotebookNode, translations: dict[str, str], lang: str,
                        name: str = "notebook") -> nbformat.NotebookNode:
    """``nb`` with every markdown cell translated, figure links made relative to ``notebooks/<lang>/``,
    code cells and outputs untouched. Raises ValueError naming the first untranslated cell."""
    missing = untranslated_cells(nb, translations)
    if missing:
        opening = nb.cells[missing[0]].source.split("\n", 1)[0][:70]
        raise ValueError(f"{name}: {len(missing)} markdown cell(s) without a {lang} translation, the first "
                         f"is cell {missing[0]} ({opening!r}). Run `python -m vidgen_lib translate --update` "
                         "to add them to the translation file, translate them there, and build again.")
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = translations[cell.source].replace("](figures/", "](../figures/")
    nb.metadata["language"] = lang
    return nb


def build_translations(notebook_dir: Path, lang: str = "zh", update: bool = False) -> list[Path]:
    """Build ``notebook_dir/<lang>/NN_x.ipynb`` for every translation file ``<lang>/translations/NN_x.md``.

    With ``update``, first rewrite each translation file to the English notebook's current markdown cells,
    in order: kept translations stay, new cells get an empty translation to fill in, stale ones go; a
    notebook with cells still to translate is then skipped. Without it, every complete notebook is built
    and the incomplete ones are named in one ValueError at the end.
    """
    notebook_dir = Path(notebook_dir)
    out_dir = notebook_dir / lang
    written, problems = [], []
    for path in sorted((out_dir / "translations").glob("*.md")):
        english = nbformat.read(notebook_dir / f"{path.stem}.ipynb", as_version=4)
        translations = read_translations(path)
        if update:
            cells = [c.source for c in english.cells if c.cell_type == "markdown"]
            write_translations(path, [(en, translations.get(en, "")) for en in cells], lang)
            translations = read_translations(path)
        try:
            translated = translated_notebook(english, translations, lang, path.stem)
        except ValueError as err:  # the other notebooks are still built
            problems.append(str(err))
            continue
        nbformat.write(translated, out_dir / f"{path.stem}.ipynb")
        written.append(out_dir / f"{path.stem}.ipynb")
    if problems and not update:
        raise ValueError(f"built {len(written)} notebook(s); not built: " + " | ".join(problems))
    return written
