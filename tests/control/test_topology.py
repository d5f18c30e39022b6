"""The topology file of ``reference-mesh up``: every problem is reported with file:line:column and the path of
the offending field, and the example topology parses."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference_mesh.runtime.topology import TopologyError, load_topology, parse_topology

REPO = Path(__file__).resolve().parents[2]

CASES = [
    (
        "bad enum value",
        "name: t\nservices:\n- name: a\n  selector: {app: a}\n  ports: [{port: 80, protocol: htp}]\n",
        ["t.yaml:5:32: services[0].ports[0].protocol: Input should be 'http', 'tcp' or 'udp'"],
    ),
    ("unknown field", "name: t\nservicez: []\n", ["t.yaml:2:1: servicez: Extra inputs are not permitted"]),
    (
        "undeclared service account",
        "deployments:\n- name: a\n  serviceAccount: nope\n  labels: {app: a}\n",
        [
            "t.yaml:3:19: deployments[0].serviceAccount: service account default/nope is not declared "
            "under serviceAccounts"
        ],
    ),
    (
        "declared twice",
        "services:\n- {name: a, selector: {app: a}, ports: [{port: 80}]}\n"
        "- {name: a, selector: {app: b}, ports: [{port: 81}]}\n",
        ["t.yaml:3:10: services[1].name: service default/a is declared twice"],
    ),
    (
        "local port reused",
        "services:\n- {name: a, selector: {app: a}, ports: [{port: 80, protocol: tcp, localPort: 3000}]}\n"
        "- {name: b, selector: {app: a}, ports: [{port: 80, protocol: tcp, localPort: 3000}]}\n",
        [
            "t.yaml:3:78: services[1].ports[0].localPort: localPort 3000 is already used by another "
            "service port"
        ],
    ),
    ("bad subnet", "subnet: 10.0.0.0/24\n", ["t.yaml:1:9: subnet: subnet must be a /24 inside 127.0.0.0/8"]),
    ("duplicate key", "name: a\nname: b\n", ["t.yaml:2:1: duplicate key 'name' (first at line 1)"]),
    ("syntax", "name: [a\n", ["t.yaml:2:1: YAML syntax error"]),
    ("not a mapping", "- a\n", ["t.yaml: a topology is one mapping"]),
    ("two documents", "name: a\n---\nname: b\n", ["t.yaml: a topology is one mapping"]),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_problems_are_located(text: str, expected: list[str]) -> None:
    with pytest.raises(TopologyError) as info:
        parse_topology(text, "t.yaml")
    lines = [line.strip() for line in str(info.value).splitlines() if not line.endswith("invalid topology:")]
    assert len(lines) == len(expected), str(info.value)
    for line, want in zip(lines, expected, strict=True):
        assert line.startswith(want), str(info.value)


def test_a_refused_item_is_not_reported_again_through_its_container() -> None:
    text = "services:\n- name: a\n  selector: {app: a}\n  ports: [{port: 80, protocol: htp}]\n"
    with pytest.raises(TopologyError) as info:
        parse_topology(text, "t.yaml")
    assert "services[0].ports:" not in str(info.value)  # only the item's own problem


def test_the_example_topology_parses() -> None:
    topo = load_topology(REPO / "examples" / "mesh" / "bookstore-topology.yaml")
    assert topo.name == "bookstore" and len(topo.deployments) == 4


def test_a_missing_file_is_reported() -> None:
    with pytest.raises(TopologyError, match=r"nowhere\.yaml: No such file"):
        load_topology(Path("/nowhere.yaml"))


def test_the_documented_topology_example_is_valid() -> None:
    doc = (REPO / "docs" / "reference-mesh" / "control-plane.md").read_text()
    section = doc.split("### Topology file", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    topo = parse_topology(example, "control-plane.md")
    assert [d.name for d in topo.deployments] == ["bookstore-v1", "reviews"]
    assert topo.deployments[1].command and topo.services[0].ports[1].local_port == 20000


def test_manifests_that_do_not_exist_are_reported_before_anything_starts(tmp_path: Path) -> None:
    (tmp_path / "here.yaml").write_text("")
    path = tmp_path / "t.yaml"
    path.write_text("name: t\nmanifests:\n- here.yaml\n- gone.yaml\n")
    with pytest.raises(TopologyError) as info:
        load_topology(path)
    assert str(info.value) == f"{path}:4:3: manifests[1]: no file 'gone.yaml' in {tmp_path.resolve()}"
