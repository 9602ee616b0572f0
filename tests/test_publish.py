"""``python -m webapp.publish``: the files each edition's Space receives, readable failures
before anything is uploaded, and clean rooms that do what Spaces do with those files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from huggingface_hub.errors import RepositoryNotFoundError

from testkit.serving import chromium, free_port, run_in_page, static_server, wait_for_url
from webapp import publish
from webapp.static import build

EXAMPLE = "webapp/examples/apollo11_crew_1969.jpg"  # three faces
needs_browser = pytest.mark.skipif(
    not shutil.which("chromedriver") and not os.environ.get("REQUIRE_BROWSER"),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)


def _dry_run(capsys, *arguments) -> dict:
    assert publish.main(["someone/space", *arguments, "--dry-run", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("static") / "site")


def test_the_gradio_dry_run_lists_the_demo_and_its_models_and_nothing_else(capsys):
    report = _dry_run(capsys, "--edition", "gradio")
    paths = {item["path"] for item in report["files"]}
    assert {"app.py", "requirements.txt", "README.md", "webapp/demo.py", "model/predictor.py",
            "faces/mtcnn/mtcnn_pnet.onnx",
            "model/weights/chip_template.json", "model/weights/cropped/age.keras",
            "model/weights/full/gender.keras", EXAMPLE} <= paths  # fmt: skip
    for left_out in ("tests/", "notebooks/", "benchmarks/", "docs/", "data/", "runs/",
                     "model/weights/onnx/", "webapp/static/", "webapp/dashboard.py"):  # fmt: skip
        assert not any(path.startswith(left_out) for path in paths), left_out
    sizes = {item["path"]: item for item in report["files"]}
    assert sizes["app.py"]["bytes"] == Path("app.py").stat().st_size
    assert sizes["model/weights/cropped/age.keras"]["large_file_storage"]
    assert not sizes["app.py"]["large_file_storage"]
    assert all(item["large_file_storage"] for item in report["files"] if item["bytes"] > 10 << 20)
    front = report["front_matter"]
    assert front["sdk"] == "gradio" and front["python_version"] == "3.11"
    assert f"gradio=={front['sdk_version']}" in Path("requirements.txt").read_text()


def test_the_static_dry_run_lists_the_built_folder(capsys, site):
    report = _dry_run(capsys, "--edition", "static", "--folder", str(site))
    built = sorted(str(path.relative_to(site)) for path in site.rglob("*") if path.is_file())
    assert [item["path"] for item in report["files"]] == built
    assert report["front_matter"]["sdk"] == "static"
    assert (
        (site / "README.md")
        .read_text()
        .startswith(publish.front_matter_text(report["front_matter"]))
    )


def test_a_missing_token_or_folder_stops_before_any_upload(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # no saved login there
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "token"))
    assert publish.main(["someone/space", "--edition", "gradio"]) == 2
    assert "no Hugging Face token" in capsys.readouterr().err
    assert publish.main(["someone/space", "--edition", "static", "--folder", str(tmp_path)]) == 2
    assert "run python -m webapp.static" in capsys.readouterr().err


def test_the_dry_run_needs_no_token_and_never_shows_one(monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", "hf_NotARealTokenButSecret")
    assert publish.main(["someone/space", "--edition", "gradio", "--dry-run"]) == 0
    assert "hf_NotARealTokenButSecret" not in capsys.readouterr().out


class RecordingHub:
    """Stands in for huggingface_hub.HfApi, which needs the network: it answers space_info
    as a Hub with the given Spaces would, and records what is created and committed."""

    def __init__(self, spaces: dict[str, str]):
        self.spaces, self.created, self.commits = dict(spaces), [], []

    def space_info(self, space_id):
        if space_id not in self.spaces:
            request = httpx.Request("GET", f"https://huggingface.co/api/spaces/{space_id}")
            response = httpx.Response(404, request=request)
            raise RepositoryNotFoundError("Repository Not Found", response=response)
        return type("SpaceInfo", (), {"sdk": self.spaces[space_id]})()

    def create_repo(self, space_id, repo_type, space_sdk):
        self.created.append((space_id, repo_type, space_sdk))
        self.spaces[space_id] = space_sdk

    def create_commit(self, space_id, operations, repo_type, commit_message):
        self.commits.append((space_id, [operation.path_in_repo for operation in operations]))


def test_a_new_space_is_created_with_the_editions_sdk_and_gets_the_plan_in_one_commit():
    hub, plan = RecordingHub({}), publish.gradio_plan()
    url = publish.publish("someone/demo", plan, token="hf_x", api=hub)
    assert url == "https://huggingface.co/spaces/someone/demo"
    assert hub.created == [("someone/demo", "space", "gradio")]
    assert hub.commits == [("someone/demo", [item["path"] for item in plan.report()["files"]])]


def test_a_space_with_another_sdk_is_left_alone():
    hub = RecordingHub({"someone/demo": "docker"})
    with pytest.raises(publish.PublishError, match="exists with the docker SDK"):
        publish.publish("someone/demo", publish.gradio_plan(), token="hf_x", api=hub)
    assert hub.commits == [] and hub.created == []


@pytest.mark.slow
def test_the_gradio_space_files_install_start_and_predict_in_a_clean_room(tmp_path):
    """What Spaces do: the dry run's files alone, a fresh virtual environment with their
    requirements, app.py listening on 0.0.0.0 at the port from the environment, then a
    prediction of a real photo through gradio_client."""
    from gradio_client import Client, handle_file

    space = tmp_path / "space"
    plan = publish.gradio_plan()
    plan.write_to(space)
    assert sorted(str(p.relative_to(space)) for p in space.rglob("*") if p.is_file()) == sorted(
        item["path"] for item in plan.report()["files"]
    )
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    python = tmp_path / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", "requirements.txt"],
                   cwd=space, check=True, timeout=1200)  # fmt: skip
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GRADIO_SERVER_NAME": "0.0.0.0",
           "GRADIO_SERVER_PORT": str(port)}  # fmt: skip
    server = subprocess.Popen([str(python), "app.py"], cwd=space, env=env)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_url(url, seconds=300, server=server)
        answer = Client(url, verbose=False).predict(
            handle_file(str(Path(EXAMPLE).resolve())), "cropped", api_name="/predict"
        )
        assert len(answer["faces"]) == 3
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
@needs_browser
def test_the_static_space_files_work_in_a_clean_room(tmp_path, site):
    """The dry run's files alone, served as a static Space serves them, load in Chromium and
    find the three faces of a real photo."""
    space = tmp_path / "space"
    publish.static_plan(site).write_to(space)
    shutil.copy(EXAMPLE, space / "photo.jpg")
    with static_server(space) as url:
        browser = chromium()
        try:
            browser.set_script_timeout(240)
            browser.get(url)
            answer = run_in_page(
                browser,
                "while (!window.ageGender) await new Promise((r) => setTimeout(r, 50));"
                "await window.ageGender.ready;"
                "return await window.ageGender.predict(args[0], 'full');",
                f"{url}photo.jpg",
            )
        finally:
            browser.quit()
    assert len(answer["faces"]) == 3
    assert all(face["framing"] == "aligned face" for face in answer["faces"])
