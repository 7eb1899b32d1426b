"""The library's layers, and a check that every import points down them.

A module may import modules of lower layers, and modules of its own unit (``metrics.content`` may
import ``metrics.distances``); never upwards, never sideways into another unit of its layer, so
there is no cycle. ``python -m vidgen_lib doctor --imports`` prints the graph and any violation;
a test asserts there is none. The check reads every ``import`` statement, including those inside
functions, from the source files.
"""
from __future__ import annotations

import ast
from pathlib import Path

#: unit -> layer; a unit is a top-level module or package of vidgen_lib ("vidgen_lib" is the root package).
LAYERS = {
    "runtime": 0, "video": 0,  # where code runs; what a video is
    "vidgen_lib": 1,  # the root: data paths, re-exports of runtime
    "nn": 2, "metrics": 2, "losses": 2, "augment": 2, "datasets": 2, "checkpoints": 2, "viz": 2,
    "train": 3,
    "features": 4,  # the pretrained toy-world video network: FVD's features, VideoBERT's clip encoder
    "models": 5, "gan_toy": 5, "vae_toy": 5,
    "evaluation": 6, "leaderboard": 6,  # the leaderboard reads the cards: it needs no evaluation code
    "exercises": 7, "course": 7, "layers": 7,
    "bench": 8,
    "cli": 9,
    "__main__": 10,
}
PACKAGE = Path(__file__).resolve().parent


def unit_of(module: str) -> str:
    """``vidgen_lib.metrics.content`` -> ``metrics``; ``vidgen_lib`` -> ``vidgen_lib``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def import_graph() -> dict[str, set[str]]:
    """Every module of the library -> the library modules it imports (anywhere in its source)."""
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = {m for m in imported if m.split(".")[0] == "vidgen_lib" and _is_module(m)}
    return graph


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def violations(graph: dict[str, set[str]] | None = None) -> list[str]:
    """Imports that point up or sideways, and units missing from ``LAYERS``: one line each."""
    graph = import_graph() if graph is None else graph
    found = []
    for module, imported in sorted(graph.items()):
        source = unit_of(module)
        if source not in LAYERS:
            found.append(f"{module}: its unit {source!r} has no layer in vidgen_lib.layers.LAYERS")
            continue
        for target in sorted(imported):
            unit = unit_of(target)
            if unit != source and LAYERS.get(unit, -1) >= LAYERS[source]:
                found.append(f"{module} (layer {LAYERS[source]}) imports {target} (layer {LAYERS.get(unit)})")
    return found


def report() -> str:
    """The units by layer, each with the units it imports, and the violations (or "none")."""
    graph = import_graph()
    uses: dict[str, set[str]] = {}
    for module, imported in graph.items():
        uses.setdefault(unit_of(module), set()).update(unit_of(t) for t in imported
                                                       if unit_of(t) != unit_of(module))
    lines = []
    for layer in sorted(set(LAYERS.values())):
        for unit in sorted(u for u, level in LAYERS.items() if level == layer and u in uses):
            lines.append(f"  {layer}  {unit:12} -> {', '.join(sorted(uses[unit])) or '(nothing)'}")
    found = violations(graph)
    lines.append("upward or sideways imports: " + ("none" if not found else f"{len(found)}"))
    return "\n".join(lines + [f"  {line}" for line in found])
