"""Data flows one way, faces -> data_prep -> model -> webapp: each floor imports only the floors
it may build on, so no import runs back up, and the front ends never import data_prep."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ("faces", "data_prep", "model", "webapp")
MAY_IMPORT = {
    "faces": set(),
    "data_prep": {"faces"},
    "model": {"faces", "data_prep"},
    "webapp": {"faces", "model"},
}
"""The project's packages each floor may import besides itself (app.py counts as webapp)."""
NOT_SHIPPED = ("testkit", "tests", "benchmarks")


def floor_files() -> list[tuple[str, Path]]:
    files = [(floor, path) for floor in FLOORS for path in sorted((ROOT / floor).rglob("*.py"))]
    return files + [("webapp", ROOT / "app.py")]


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    ("floor", "path"), floor_files(), ids=lambda item: getattr(item, "name", item)
)
def test_each_floor_imports_only_the_floors_below_it(floor, path):
    project_imports = imported_packages(path) & {*FLOORS, *NOT_SHIPPED}
    assert project_imports <= MAY_IMPORT[floor] | {floor}, path.relative_to(ROOT)


def test_the_bottom_floor_finds_and_aligns_faces_without_tensorflow(tmp_path):
    script = (
        "import sys, numpy as np\n"
        "from faces import FaceDetector\n"
        "from faces.align import TEMPLATE, ChipTemplate, align_face\n"
        "from testkit.hostile import face_photo\n"
        "photo = face_photo(640, 480)\n"
        "face = FaceDetector().detect([np.asarray(photo)])[0][0]\n"
        "chip = align_face(photo, face, ChipTemplate.load('model/weights/' + TEMPLATE))\n"
        "print(chip.size, 'tensorflow' in sys.modules)\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.split()[-1] == "False"
