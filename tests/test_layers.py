"""The library's imports point down its layers: no upward arrow, no cycle."""
from vidgen_lib import cli, layers


def test_no_module_imports_upwards_or_sideways():
    assert layers.violations() == []


def test_the_check_catches_an_upward_and_a_sideways_import():
    graph = {
        "vidgen_lib.metrics.distances": {"vidgen_lib.features"},  # maths calling up to a network
        "vidgen_lib.nn.conv": {"vidgen_lib.losses"},  # two units of one layer
        "vidgen_lib.metrics.content": {"vidgen_lib.metrics.distances"},  # within a unit: fine
        "vidgen_lib.newthing": set(),
    }
    found = layers.violations(graph)
    assert len(found) == 3
    assert found[0].startswith("vidgen_lib.metrics.distances (layer 2) imports "
                               "vidgen_lib.features")
    assert "no layer" in found[1]
    assert found[2].startswith("vidgen_lib.nn.conv (layer 2) imports vidgen_lib.losses")


def test_the_graph_sees_imports_inside_functions():
    graph = layers.import_graph()
    assert "vidgen_lib.evaluation" in graph["vidgen_lib.cli"]  # imported inside cli.train only
    assert graph["vidgen_lib.video"] == set() and graph["vidgen_lib.runtime"] == set()


def test_doctor_imports_prints_the_layers(capsys):
    assert cli.main(["doctor", "--imports"]) == 0
    out = capsys.readouterr().out
    assert "upward or sideways imports: none" in out and "  6  evaluation   -> " in out
