"""The browser edition: a folder that is a complete Hugging Face Static Space.

    python -m webapp.static --out site        # then: cd site && python -m http.server

The page (``page/``: HTML, CSS and ES modules, no build tools) runs the ONNX export of the
shipped models (``python -m model.export``, in ``model/weights/onnx``) with onnxruntime-web,
pinned in ``package.json`` and ``package-lock.json`` and copied from ``node_modules`` into the
folder: nothing is fetched from elsewhere at run time, and no photo leaves the visitor's device.
``engine.js`` repeats `model.predictor.Predictor` (detection, alignment, the test-time views,
margins) and the CAM and occlusion maps of `model.explain`; ``page.js`` is the interface.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import matplotlib
import numpy as np

from faces.mtcnn_onnx import NETWORK_INPUTS, NETWORKS_DIR, network_file
from model.config import EXPORT_DIR, WEIGHTS_DIR
from model.render import BLANK_MAP, COLORMAP, DIVERGING_COLORMAP, SIGNED_PERCENTILE

HERE = Path(__file__).resolve().parent
PAGE = HERE / "page"
EXAMPLES = HERE.parent / "examples"
ONNXRUNTIME = HERE / "node_modules" / "onnxruntime-web"
RUNTIME_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
"""What the page loads of onnxruntime-web: the WebAssembly build (single-threaded unless the
page is cross-origin isolated, which Spaces are not), its loader and its binary."""
FRONT_MATTER = {
    "title": "Age and gender, in your browser",
    "emoji": "🔍",
    "colorFrom": "blue",
    "colorTo": "indigo",
    "sdk": "static",
    "app_file": "index.html",
    "pinned": False,
    "short_description": "Age and gender from a face photo, with maps; no photo leaves you",
}


class BuildError(RuntimeError):
    """The folder cannot be built; the message says what to do."""


def runtime_folder() -> Path:
    """onnxruntime-web's files, installed from the lockfile (``npm ci``) when missing."""
    dist = ONNXRUNTIME / "dist"
    if not all((dist / name).is_file() for name in RUNTIME_FILES):
        if shutil.which("npm") is None:
            raise BuildError("npm is needed once to install onnxruntime-web (Node.js 20 or later)")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)
    return dist


def colour_scales(size: int = 256) -> dict:
    """The server's colour maps (model.render) as lookup tables of `size` RGB colours, with
    the rest of what its colour bars need."""
    positions = np.linspace(0.0, 1.0, size)

    def table(name: str) -> list[list[int]]:
        colours = matplotlib.colormaps[name](positions)[:, :3]
        return (colours * 255).round().astype(int).tolist()

    return {
        "relative": table(COLORMAP),
        "signed": table(DIVERGING_COLORMAP),
        "signed_percentile": SIGNED_PERCENTILE,
        "blank_map": BLANK_MAP,
    }


def readme() -> str:
    """The Space's README.md: its front matter and a few words."""
    from webapp.publish import front_matter_text

    return front_matter_text(FRONT_MATTER) + (
        "\n# Age and gender, in your browser\n\nEstimates the age and gender of every face in "
        "a photo and shows which parts of the face each model looked at. Everything runs in "
        "your browser (onnxruntime-web): no photo is uploaded anywhere. Built by `python -m "
        "webapp.static` from the age-gender-explained project; see its README.\n"
    )


def build(out: str | Path, exports: Path = WEIGHTS_DIR / EXPORT_DIR) -> Path:
    """Write the complete Static Space into `out` (emptied first); returns it."""
    from model.export import stale_exports

    stale = stale_exports(exports)
    if stale:
        raise BuildError(
            f"the export of {', '.join(stale)} is older than the shipped weights: "
            "run python -m model.export"
        )
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(PAGE, out)
    vendor = out / "vendor"
    vendor.mkdir()
    dist = runtime_folder()
    for name in RUNTIME_FILES:
        shutil.copy(dist / name, vendor / name)
    package = json.loads((ONNXRUNTIME / "package.json").read_text())
    (vendor / "NOTICE.txt").write_text(
        f"{package['name']} {package['version']}, {package['license']} licence, "
        f"Copyright (c) Microsoft Corporation: {package.get('homepage', '')}\n"
    )
    shutil.copytree(exports, out / "models")
    for network in NETWORK_INPUTS:
        shutil.copy(NETWORKS_DIR / network_file(network), out / "models")
    shutil.copytree(EXAMPLES, out / "examples")
    (out / "scales.json").write_text(json.dumps(colour_scales()))
    (out / "README.md").write_text(readme())
    return out
