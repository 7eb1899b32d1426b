"""Course tooling: the student edition hides every solution, and every exercise has a check."""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from vidgen_lib.course import (BEGIN, END, NOTEBOOK_GLOB, build_student_edition, execute_notebook,
                               exercise_header, student_notebook)
from vidgen_lib.exercises import load_all

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
REAL_NOTEBOOKS = sorted(NOTEBOOK_DIR.glob(NOTEBOOK_GLOB))

SOLUTION = """# Exercise 9.1: the square
def square(x: float) -> float:
    \"\"\"x squared.\"\"\"
    ### BEGIN SOLUTION
    secret = x * x
    return secret
    ### END SOLUTION

print(square(3.0))"""


def small_notebook(solution: str = SOLUTION) -> nbformat.NotebookNode:
    """A notebook with a markdown cell, a plain code cell and a solution cell, all with outputs."""
    plain = new_code_cell("print('hello')", execution_count=1,
                          outputs=[new_output("stream", name="stdout", text="hello\n")])
    exercise = new_code_cell(solution, execution_count=2, metadata={"tags": ["solution"]},
                             outputs=[new_output("stream", name="stdout", text="9.0\n")])
    nb = new_notebook(cells=[new_markdown_cell("# A chapter"), plain, exercise])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def solution_lines(source: str) -> list[str]:
    """The non-blank lines between the solution markers of one cell."""
    lines, inside = [], False
    for line in source.split("\n"):
        if line.strip() in (BEGIN, END):
            inside = line.strip() == BEGIN
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def solution_cells(nb: nbformat.NotebookNode) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if "solution" in c.get("metadata", {}).get("tags", [])]


def is_check_cell(cell: nbformat.NotebookNode) -> bool:
    """An nbgrader autograded check cell: graded, locked, with points."""
    grader = cell.get("metadata", {}).get("nbgrader", {})
    return bool(grader.get("grade")) and bool(grader.get("locked")) and grader.get("points", 0) > 0


# --- the student edition of a small notebook -------------------------------------------------------

def test_student_edition_replaces_solutions_with_stubs(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    nbformat.write(small_notebook(), src / "09_small.ipynb")
    nbformat.write(small_notebook(), src / "scratch.ipynb")  # not NN_*.ipynb: not part of the course
    written = build_student_edition(src, tmp_path / "student")
    assert [p.name for p in written] == ["09_small.ipynb"]

    student = nbformat.read(written[0], as_version=4)
    original = nbformat.read(src / "09_small.ipynb", as_version=4)
    assert student.cells[:2] == original.cells[:2]  # other cells untouched, outputs kept
    stub = student.cells[2]
    assert "secret" not in stub.source and BEGIN not in stub.source and END not in stub.source
    assert '    raise NotImplementedError("Exercise 9.1: the square")' in stub.source.split("\n")
    assert stub.source.endswith("print(square(3.0))")  # code after the markers stays
    assert stub.outputs == [] and stub.execution_count is None
    assert "widgets" not in student.metadata


def test_student_stub_raises_the_exercise_error() -> None:
    code = student_notebook(small_notebook()).cells[2].source
    with pytest.raises(NotImplementedError, match=r"^Exercise 9\.1: the square$"):
        exec(code, {})


def test_solution_cell_needs_an_exercise_header() -> None:
    nb = small_notebook(SOLUTION.replace("# Exercise 9.1: the square", "# the square"))
    with pytest.raises(ValueError, match=r"cell 2.*# Exercise N\.M: <title>"):
        student_notebook(nb)


def test_markers_outside_solution_cells_are_refused() -> None:
    nb = small_notebook()
    nb.cells[2].metadata["tags"] = []
    with pytest.raises(ValueError, match="not tagged 'solution'"):
        student_notebook(nb)


def test_unbalanced_markers_are_refused() -> None:
    with pytest.raises(ValueError, match="without"):
        student_notebook(small_notebook(SOLUTION.replace("    ### END SOLUTION\n", "")))


def test_exercise_header() -> None:
    assert exercise_header("# Exercise 1.2: JSD and V(D*, G)\nx = 1") == ("1.2", "JSD and V(D*, G)")
    assert exercise_header("# exercise: none") is None


def test_execute_notebook_saves_outputs_without_widget_state(tmp_path: Path) -> None:
    nb = new_notebook(cells=[new_code_cell("print(6 * 7)")])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    path = tmp_path / "01_tiny.ipynb"
    nbformat.write(nb, path)
    seconds = execute_notebook(path, timeout=60)
    done = nbformat.read(path, as_version=4)
    assert seconds > 0
    assert done.cells[0].outputs[0].text == "42\n" and done.cells[0].execution_count == 1
    assert "widgets" not in done.metadata


def test_execute_notebook_saves_no_frozen_progress_bar(tmp_path: Path) -> None:
    source = "from tqdm.auto import tqdm\nfor _ in tqdm(range(3)):\n    pass\nprint('done')"
    nb = new_notebook(cells=[new_code_cell(source)])
    path = tmp_path / "01_bar.ipynb"
    nbformat.write(nb, path)
    execute_notebook(path, timeout=60)
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    assert [o.get("text") for o in outputs] == ["done\n"]  # the bar left nothing behind


# --- every notebook of the course ------------------------------------------------------------------

@pytest.mark.parametrize("path", REAL_NOTEBOOKS, ids=lambda p: p.name)
def test_student_edition_hides_every_solution(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    student = student_notebook(nb, path.name)
    text = nbformat.writes(student)
    assert BEGIN not in text and END not in text
    for i in solution_cells(nb):
        for line in solution_lines(nb.cells[i].source):
            assert line not in student.cells[i].source, f"{path.name} cell {i}: solution line {line!r} leaked"
        assert student.cells[i].outputs == []


@pytest.mark.parametrize("path", REAL_NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_has_a_check_that_its_cell_calls(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    checks = load_all()  # exercise id -> check, from every chapter module
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for i in solution_cells(nb):
        header = exercise_header(nb.cells[i].source)
        assert header, f"{path.name} cell {i}: no '# Exercise N.M: <title>' header"
        assert header[0] in checks, (
            f"{path.name}: exercise {header[0]} has no check registered in vidgen_lib.exercises")
        nxt = [j for j in code if j > i][:1]
        calls = nb.cells[i].source + "".join(nb.cells[j].source for j in nxt)
        name = checks[header[0]].__name__
        assert f"{name}(" in calls or f", {name}, " in calls.split("use_answer(", 1)[-1], (
            f"{path.name} cell {i}: call the check of {header[0]} (directly, or through use_answer)")


@pytest.mark.parametrize("path", REAL_NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_has_nbgrader_metadata_and_a_locked_check_cell(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    ids = []
    for i in solution_cells(nb):
        exercise = exercise_header(nb.cells[i].source)[0].replace(".", "_")
        grader = nb.cells[i].metadata.get("nbgrader", {})
        assert grader.get("solution") and not grader.get("grade")
        assert grader.get("grade_id") == f"exercise_{exercise}"
        assert is_check_cell(nb.cells[i + 1]), f"{path.name} cell {i + 1}: the check of {exercise}, own cell"
        assert nb.cells[i + 1].metadata["nbgrader"]["grade_id"] == f"check_{exercise}"
        ids += [f"exercise_{exercise}", f"check_{exercise}"]
    assert len(ids) == len(set(ids))  # nbgrader needs unique ids
    numbers = [int(exercise_header(nb.cells[i].source)[0].split(".")[1]) for i in solution_cells(nb)]
    assert numbers == list(range(1, len(numbers) + 1)), f"{path.name}: exercises out of order: {numbers}"


@pytest.mark.parametrize("path", REAL_NOTEBOOKS, ids=lambda p: p.name)
def test_every_student_stub_compiles_and_defines_what_its_check_passes_on(path: Path) -> None:
    """In the student edition each exercise cell still parses and still defines the name that its check
    cell hands to ``use_answer`` (which falls back to the reference while the stub raises), so the rest of
    the notebook runs before the learner has done anything."""
    nb = nbformat.read(path, as_version=4)
    student = student_notebook(nb, path.name)
    for i in solution_cells(nb):
        stub = ast.parse(student.cells[i].source)
        assert any(isinstance(node, ast.Raise) for node in ast.walk(stub)), f"{path.name} cell {i}: no stub"
        defined = {node.name for node in stub.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        defined |= {t.id for node in stub.body if isinstance(node, ast.Assign) for t in node.targets
                    if isinstance(t, ast.Name)}
        calls = [node for node in ast.walk(ast.parse(nb.cells[i + 1].source)) if isinstance(node, ast.Call)
                 and getattr(node.func, "id", None) == "use_answer"]
        assert len(calls) == 1, f"{path.name} cell {i + 1}: the check runs through one use_answer(...)"
        answer = calls[0].args[2]
        if isinstance(answer, ast.Name):
            assert answer.id in defined, f"{path.name} cell {i}: the stub does not define {answer.id!r}"


#: Run for real in the student edition (the mechanism is the same in every notebook; these two are quick).
STUDENT_RUNS = ["02_vgan.ipynb", "07_dvg.ipynb"]


@pytest.mark.parametrize("name", STUDENT_RUNS)
def test_student_edition_runs_up_to_its_first_exercise(name: str) -> None:
    """The student edition, run up to its first exercise: a notebook whose exercises go through
    ``use_answer`` says "not done yet" and goes on; an older one stops with the exercise's message."""
    path = NOTEBOOK_DIR / name
    nb = nbformat.read(path, as_version=4)
    if not solution_cells(nb):
        pytest.skip("no exercises in this notebook")
    first = solution_cells(nb)[0]
    check = first + 1 if is_check_cell(nb.cells[first + 1]) else first  # where the exercise's check runs
    student = student_notebook(nb, path.name)
    falls_back = "use_answer(" in student.cells[check].source
    student.cells = student.cells[:check + 1]
    client = NotebookClient(student, timeout=600, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    if falls_back:
        client.execute()
        printed = "".join(o.get("text", "") for o in student.cells[check].outputs)
        assert "not done yet" in printed, printed
        return
    with pytest.raises(CellExecutionError) as failure:
        client.execute()
    error, message = failure.value.ename, failure.value.evalue
    # The stub raises either where it stands (top-level code) or inside the check that calls it.
    stub_raised = error == "NotImplementedError" and message.startswith("Exercise")
    check_reported = error in ("ExerciseError", "ExerciseNotDone") and "is not implemented yet" in message
    assert stub_raised or check_reported, f"first error: {error}: {message}"


def test_bench_times_notebooks_with_their_kernels_peak_memory_and_no_kernel_warning(tmp_path, capfd):
    from vidgen_lib import bench

    path = tmp_path / "01_tiny.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("big = bytearray(64 * 2**20)  # 64 MB the kernel must hold"))
    nbformat.write(nb, path)
    results = bench.time_notebooks([path])
    seconds, peak_mb = results["01_tiny.ipynb"]
    assert seconds > 0 and peak_mb > 64  # the kernel's own peak, which holds the 64 MB
    out, err = capfd.readouterr()
    assert "notebook/01_tiny.ipynb" in out and "without encryption" not in out + err
    assert nbformat.read(path, as_version=4).cells[0].outputs == []  # the file itself is left as it was


def test_every_notebook_reference_points_to_a_notebook_that_exists():
    """"notebook 04", "chapters 06–08", "MoCoGAN (03)": every number a markdown cell names must be a
    notebook."""
    import json
    import re

    folder = Path(__file__).resolve().parent.parent / "notebooks"
    existing = {path.name[:2] for path in folder.glob(NOTEBOOK_GLOB)}
    named = re.compile(r"\b(?:[Nn]otebooks?|[Cc]hapters?)\s+(\d\d(?:\s*(?:,|and|–|-|to)\s*\d\d)*)")
    in_brackets = re.compile(r"\b[A-Z][\w-]*\s+\((\d\d)\)")
    for path in sorted(folder.glob(NOTEBOOK_GLOB)):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            text = "".join(cell["source"])
            numbers = {n for m in named.finditer(text) for n in re.findall(r"\d\d", m.group(1))}
            numbers |= {m.group(1) for m in in_brackets.finditer(text)}
            assert numbers <= existing, (
                f"{path.name} points to notebook(s) {sorted(numbers - existing)}, which do not exist")


# --- grading ---------------------------------------------------------------------------------------

GRADED_SETUP = """from vidgen_lib.exercises import check_flow_loss, check_warp, use_answer
from vidgen_lib.models import vid2vid
from vidgen_lib.nn.warp import warp as library_warp"""
GRADED_WARP = """# Exercise 9.1: backward warping
def warp(image, flow):
    ### BEGIN SOLUTION
    return library_warp(image, flow)
    ### END SOLUTION"""
GRADED_FLOW_LOSS = """# Exercise 9.3: the flow loss
def flow_loss(flow, true_flow, previous, current):
    ### BEGIN SOLUTION
    return (flow - true_flow).abs().mean() + (warp(previous, flow) - current).abs().mean()
    ### END SOLUTION


flow_loss = use_answer("9.3", check_flow_loss, flow_loss, vid2vid.flow_loss)"""


def graded_notebook(flow_loss_source: str = GRADED_FLOW_LOSS) -> nbformat.NotebookNode:
    """Two exercises: 9.1 with a separate nbgrader check cell worth 2 points, 9.3 checked in its own cell."""
    cells = [new_code_cell(GRADED_SETUP), new_code_cell(GRADED_WARP, metadata={"tags": ["solution"]}),
             new_code_cell('warp = use_answer("9.1", check_warp, warp, library_warp)',
                           metadata={"nbgrader": {"grade": True, "grade_id": "check_9_1", "locked": True,
                                                  "points": 2, "solution": False, "schema_version": 3}}),
             new_code_cell(flow_loss_source, metadata={"tags": ["solution"]})]
    return new_notebook(cells=cells)


def test_grade_runs_every_students_notebooks_and_writes_one_row_per_exercise(tmp_path, capsys):
    import csv

    from vidgen_lib import cli

    wrong = GRADED_FLOW_LOSS.replace(" + (warp(previous, flow) - current).abs().mean()", "")
    submissions = {"ada": graded_notebook(), "bob": student_notebook(graded_notebook()),
                   "cy": graded_notebook(wrong)}
    for student, nb in submissions.items():
        (tmp_path / "in" / student).mkdir(parents=True)
        nbformat.write(nb, tmp_path / "in" / student / "09_graded.ipynb")
    out = tmp_path / "grades.csv"
    assert cli.main(["grade", str(tmp_path / "in"), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    table = {(r["student"], r["exercise"]): (r["status"], float(r["points"]), float(r["max_points"]))
             for r in rows}
    assert table == {("ada", "9.1"): ("passed", 2, 2), ("ada", "9.3"): ("passed", 1, 1),
                     ("bob", "9.1"): ("not done", 0, 2), ("bob", "9.3"): ("not done", 0, 1),
                     ("cy", "9.1"): ("passed", 2, 2), ("cy", "9.3"): ("failed", 0, 1)}
    failed = next(r for r in rows if r["status"] == "failed")
    assert "ExerciseError" in failed["message"] and "only the flow term" in failed["message"]
    assert "wrote" in capsys.readouterr().out
    assert cli.main(["grade", str(tmp_path / "nowhere")]) == 2


def test_the_grading_guard_refuses_connections_that_leave_the_machine():
    import socket

    from vidgen_lib.course import NETWORK_GUARD

    original = socket.socket.connect
    try:
        exec(NETWORK_GUARD, {})
        with socket.socket() as client, pytest.raises(OSError, match="without network"):
            client.connect(("10.255.255.1", 80))
        with socket.socket() as server, socket.socket() as client:  # this machine is fine
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            client.connect(server.getsockname())
    finally:
        socket.socket.connect = original


def test_student_edition_brings_the_figures_its_markdown_shows(tmp_path):
    (tmp_path / "src" / "figures").mkdir(parents=True)
    (tmp_path / "src" / "figures" / "model.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    nbformat.write(new_notebook(cells=[new_markdown_cell("![the model](figures/model.svg)")]),
                   tmp_path / "src" / "01_x.ipynb")
    build_student_edition(tmp_path / "src", tmp_path / "out")
    assert (tmp_path / "out" / "figures" / "model.svg").exists()
    assert (tmp_path / "out" / "01_x.ipynb").exists()
