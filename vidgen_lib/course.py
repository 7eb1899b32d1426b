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
    """Write the student edition of every ``NN_*.ipynb`` in ``src_dir`` to ``out_dir``; returns the new
    paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(Path(src_dir).glob(NOTEBOOK_GLOB)):
        nb = student_notebook(nbformat.read(path, as_version=4), path.name)
        nbformat.write(nb, out_dir / path.name)
        written.append(out_dir / path.name)
    return written


def run_notebook(nb: nbformat.NotebookNode, folder: Path, timeout: int = 600) -> float:
    """Execute ``nb`` in place, top to bottom, with ``folder`` as its working directory; returns wall seconds.

    The kernel logs errors only: its start-up warning about TCP on localhost says nothing about the
    notebook and would land in the middle of the caller's output (the bench table, say).
    """
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
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
