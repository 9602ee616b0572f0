"""Publish an edition to a Hugging Face Space in one command.

    python -m webapp.publish USER/SPACE --edition gradio            # the Python demo
    python -m webapp.publish USER/SPACE --edition static            # the browser edition
    python -m webapp.publish USER/SPACE --edition gradio --dry-run [--json]

It creates the Space with the edition's SDK if it does not exist, and uploads only what that
edition needs, from an explicit list (`GRADIO_FILES`; for the static edition the folder that
``python -m webapp.static`` built), in one commit through huggingface_hub, which sends large
and binary files to the Hub's large-file storage as the Hub requires. The Space's README.md
carries the front matter (`GRADIO_FRONT_MATTER`, or the static build's). The token comes from
``HF_TOKEN`` or a saved login (``hf auth login``) and is never printed or written. ``--dry-run``
lists the files with their sizes and the front matter, with no network and no token.
Failures a user can fix (no token, a Space with another SDK, the static folder not built, a
file the Hub would refuse) end with a message and exit code 2, before anything is uploaded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from model.config import VARIANTS

ROOT = Path(__file__).resolve().parent.parent
EDITIONS = ("gradio", "static")
GRADIO_FILES = (
    "app.py",
    "requirements.txt",
    "data_prep/*.py",
    "faces/*.py",
    "faces/mtcnn/*.onnx",
    "model/*.py",
    "model/weights/*.json",
    *(
        f"model/weights/{variant}/{files}"
        for variant in VARIANTS
        for files in ("*.keras", "*.json", "*.csv", "average_maps/*")
    ),
    "webapp/__init__.py",
    "webapp/demo.py",
    "webapp/figures.py",
    "webapp/live.py",
    "webapp/many_photos.py",
    "webapp/variants.py",
    "webapp/examples/*",
)
"""What the Gradio demo needs, relative to the repository root: the code it imports, the
shipped models and their files, the example photos. No tests, notebooks, benchmarks, docs,
data, ONNX export, dashboard or training history."""
PYTHON_VERSION = "3.11"
"""The pinned numpy (2.4), pandas (3.1) and scipy (1.17) need Python 3.11 or later, and 3.11 is
what the project is developed and tested on; Spaces offer it."""
GRADIO_FRONT_MATTER = {
    "title": "Age and gender, explained",
    "emoji": "🔍",
    "colorFrom": "blue",
    "colorTo": "indigo",
    "sdk": "gradio",
    "sdk_version": None,  # the version pinned in requirements.txt
    "python_version": PYTHON_VERSION,
    "app_file": "app.py",
    "suggested_hardware": "cpu-basic",
    "pinned": False,
    "short_description": "Age and gender from a face photo, with saliency maps that show why",
}
"""The Gradio Space's front matter. Everything runs on the CPU (TensorFlow, about 1 GB of
memory): the free-tier hardware, cpu-basic (2 vCPU, 16 GB), is enough, but since July 2026 a
Gradio Space on CPU hardware needs a paid plan (README, "Publish to Hugging Face Spaces")."""
README = "README.md"
PLAIN_GIT_LIMIT = 10 * 1024 * 1024
"""Files larger than this (and binary files) must go to the Hub's large-file storage, which
huggingface_hub's upload does; a plain git push of them is refused."""
HUB_FILE_LIMIT = 50 * 1000**3
"""The largest single file the Hub stores (50 GB)."""


class PublishError(RuntimeError):
    """Something the user can fix; the message says what."""


@dataclass
class Plan:
    """What one edition's Space receives: `files` (paths relative to `root`, sorted) copied as
    they are, and `generated` files written from text (the Space's README)."""

    edition: str
    root: Path
    files: list[str]
    front_matter: dict
    generated: dict[str, str] = field(default_factory=dict)

    @property
    def sdk(self) -> str:
        return self.front_matter["sdk"]

    def contents(self) -> dict[str, bytes | Path]:
        """Every path in the Space with its bytes (generated) or the file to copy."""
        contents: dict[str, bytes | Path] = {path: self.root / path for path in self.files}
        contents.update({path: text.encode() for path, text in self.generated.items()})
        return dict(sorted(contents.items()))

    def report(self) -> dict:
        """The dry run, as JSON: each file with its size, and the front matter."""
        files = []
        for path, source in self.contents().items():
            data = source if isinstance(source, bytes) else source.read_bytes()
            files.append({"path": path, "bytes": len(data),
                          "large_file_storage": needs_large_file_storage(data)})  # fmt: skip
        return {"edition": self.edition, "files": files, "front_matter": self.front_matter}

    def write_to(self, folder: Path) -> None:
        """The Space's files in `folder`, as the Space receives them."""
        for path, source in self.contents().items():
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, bytes):
                target.write_bytes(source)
            else:
                shutil.copyfile(source, target)


def needs_large_file_storage(data: bytes) -> bool:
    """Whether the Hub keeps a file in large-file storage: over 10 MiB, or binary."""
    if len(data) > PLAIN_GIT_LIMIT or b"\0" in data:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def front_matter_text(front_matter: dict) -> str:
    """The YAML block that opens a Space's README.md."""
    lines = [
        f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in front_matter.items()
    ]
    return "\n".join(["---", *lines, "---", ""])


def pinned_version(package: str, requirements: Path = ROOT / "requirements.txt") -> str:
    for line in requirements.read_text().splitlines():
        name, _, version = line.partition("==")
        if name.strip().lower() == package:
            return version.split("#")[0].strip()
    raise PublishError(f"{requirements} pins no version of {package}")


def gradio_plan(root: Path = ROOT) -> Plan:
    files = sorted(
        {str(path.relative_to(root)) for pattern in GRADIO_FILES for path in root.glob(pattern)
         if path.is_file()}
    )  # fmt: skip
    missing = [pattern for pattern in GRADIO_FILES if not any(root.glob(pattern))]
    if missing:
        raise PublishError(f"missing from {root}: {', '.join(missing)}")
    front_matter = dict(GRADIO_FRONT_MATTER, sdk_version=pinned_version("gradio"))
    readme = front_matter_text(front_matter) + (
        "\n# Age and gender, explained\n\nEstimates the age and gender of every face in a photo "
        "and shows, with saliency maps, which parts of the face each model looked at. Published "
        "with `python -m webapp.publish` from the age-gender-explained project.\n"
    )
    return Plan("gradio", root, files, front_matter, {README: readme})


def static_plan(folder: Path) -> Plan:
    """The folder ``python -m webapp.static`` built, whole; its README carries the front
    matter."""
    from webapp.static import FRONT_MATTER

    if not (folder / "index.html").is_file() or not (folder / README).is_file():
        raise PublishError(
            f"{folder} is not a built static edition: run python -m webapp.static --out {folder}"
        )
    files = sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())
    return Plan("static", folder, files, dict(FRONT_MATTER))


def check_sizes(plan: Plan) -> None:
    sizes = {path: len(source) if isinstance(source, bytes) else source.stat().st_size
             for path, source in plan.contents().items()}  # fmt: skip
    too_large = [path for path, size in sizes.items() if size > HUB_FILE_LIMIT]
    if too_large:
        raise PublishError(f"the Hub refuses files over 50 GB: {', '.join(too_large)}")


def publish(space_id: str, plan: Plan, token: str | None = None, api=None) -> str:
    """Create the Space if needed and upload the plan's files in one commit; returns its URL.
    `api`: a huggingface_hub.HfApi (made with the token if not given)."""
    from huggingface_hub import CommitOperationAdd, HfApi, get_token
    from huggingface_hub.errors import RepositoryNotFoundError

    check_sizes(plan)
    token = token or get_token()
    if not token:
        raise PublishError("no Hugging Face token: set HF_TOKEN or log in with `hf auth login`")
    api = api or HfApi(token=token)
    try:
        sdk = api.space_info(space_id).sdk
    except RepositoryNotFoundError:
        api.create_repo(space_id, repo_type="space", space_sdk=plan.sdk)
    else:
        if sdk != plan.sdk:
            raise PublishError(
                f"the Space {space_id} exists with the {sdk} SDK; the {plan.edition} edition "
                f"needs {plan.sdk}: pick another name or change the Space's SDK"
            )
    operations = [
        CommitOperationAdd(path_in_repo=path, path_or_fileobj=source if isinstance(source, bytes)
                           else str(source))
        for path, source in plan.contents().items()
    ]  # fmt: skip
    api.create_commit(space_id, operations, repo_type="space",
                      commit_message=f"Publish the {plan.edition} edition")  # fmt: skip
    return f"https://huggingface.co/spaces/{space_id}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m webapp.publish",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("space", help="the Space, as USER/NAME (or ORGANISATION/NAME)")
    parser.add_argument("--edition", choices=EDITIONS, required=True)
    parser.add_argument("--folder", default="site", help="static: the built folder (site)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be uploaded")
    parser.add_argument("--json", action="store_true", help="with --dry-run: as one JSON object")
    args = parser.parse_args(argv)
    try:
        plan = gradio_plan() if args.edition == "gradio" else static_plan(Path(args.folder))
        if args.dry_run:
            report = plan.report()
            if args.json:
                print(json.dumps(report, indent=2, ensure_ascii=False))
                return 0
            for item in report["files"]:
                storage = "  (large-file storage)" if item["large_file_storage"] else ""
                print(f"{item['bytes']:>12,}  {item['path']}{storage}")
            total = sum(item["bytes"] for item in report["files"])
            print(f"{total:>12,}  in all, {len(report['files'])} files, to {args.space}")
            print(front_matter_text(plan.front_matter), end="")
            return 0
        print(f"Published: {publish(args.space, plan)}")
        return 0
    except PublishError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
