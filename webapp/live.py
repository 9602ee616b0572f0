"""The demo's "Live camera" tab: the browser's webcam streamed to the server, every face boxed
and labelled with its age and gender on the frames that come back.

Each frame is shrunk to `DETECT_SIDE` pixels on its longer side before the faces are found
and judged (detection is what costs), and the boxes are drawn on the full frame. Gradio's
stream keeps only the newest frame while one is being worked on, so a slow server drops
frames instead of queueing them. A stream stops after `TIME_LIMIT` seconds, when the tab or
the browser tab is left (a small script clicks the camera's Stop button), and on Stop.
Frames travel as inline JPEGs and are never written to disk.
"""

from __future__ import annotations

import base64
import io
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import gradio as gr
import numpy as np
from gradio.data_classes import ImageData
from PIL import Image

from model.predictor import shared_predictor
from model.render import annotate
from webapp.variants import check_variant

DETECT_SIDE = 320
"""Longer side, in pixels, of the copy of each frame the faces are found in (640x480 -> 320x240)."""
STREAM_EVERY = 0.1
"""Seconds between frames the browser offers (at most 10 frames per second)."""
TIME_LIMIT = 60
"""Seconds of streaming per start, so one visitor cannot hold the server."""
CONCURRENCY = 1
"""Streams served at once; further visitors wait in the queue (each frame takes most of a core)."""
JPEG_QUALITY = 80
TAB_ID = "live-tab"
CAMERA_ID = "live-camera"
FRAMES_ID = "live-frames"

STOP_WHEN_LEFT = f"""
() => {{
  const tab = document.getElementById("{TAB_ID}");
  if (!tab || tab.dataset.stopWhenLeft) return;
  tab.dataset.stopWhenLeft = "1";
  const stop = () => {{
    const button = tab.querySelector("#{CAMERA_ID} button.capture-button");
    if (button && /stop/i.test(button.textContent)) button.click();
  }};
  new MutationObserver(() => {{ if (tab.style.display === "none") stop(); }})
    .observe(tab, {{ attributes: true, attributeFilter: ["style"] }});
  document.addEventListener("visibilitychange", () => {{ if (document.hidden) stop(); }});
}}
"""
"""Runs when the tab is first opened: from then on, leaving the tab (Gradio hides it) or the
browser tab stops the stream, as the Stop button does."""


class LiveFrame(gr.Image):
    """Gradio's image output, but a frame goes to the browser inline, as a JPEG data URL, instead
    of through a file in Gradio's cache: faster, and nothing from the camera touches the disk."""

    is_template = True

    def postprocess(self, value: Image.Image | np.ndarray | None) -> ImageData | None:
        if value is None:
            return None
        picture = value if isinstance(value, Image.Image) else Image.fromarray(value)
        buffer = io.BytesIO()
        picture.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY)
        encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
        return ImageData(url=f"data:image/jpeg;base64,{encoded}", mime_type="image/jpeg")


def shrink(frame: np.ndarray, side: int = DETECT_SIDE) -> np.ndarray:
    """The frame scaled down so its longer side is at most `side` pixels."""
    picture = Image.fromarray(frame)
    picture.thumbnail((side, side), Image.Resampling.BILINEAR)
    return np.asarray(picture)


def find_faces(frame: np.ndarray, variant: str) -> Labels:
    """Every face of a camera frame, found and judged on a copy shrunk to `DETECT_SIDE`."""
    small = shrink(frame)
    result = shared_predictor(variant).predict(small)
    frame_size = (frame.shape[1], frame.shape[0])
    return Labels(result.boxes_in(frame_size), [face.label() for face in result.faces])


@dataclass(frozen=True)
class Labels:
    """Boxes (x, y, width, height in pixels of the full frame) and their captions."""

    boxes: list[tuple[int, int, int, int]]
    captions: list[str]


@dataclass
class LiveFaces:
    """One stream's faces: the newest finished labels and the search under way, if any."""

    labels: Labels | None = None
    search: Future | None = None


_searches = ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="live-faces")
"""Finds faces beside the stream, so frames keep flowing while a search runs."""


def label_frame(
    frame: np.ndarray | None, variant: str = "cropped", faces: LiveFaces | None = None
) -> tuple[Image.Image | None, LiveFaces]:
    """One camera frame (uint8 (H, W, 3)) with every face's box, age and gender drawn on it, and
    the stream's state. The faces are searched on the newest frame while the previous search
    is done; frames that come meanwhile get the newest labels (at most one search old), so
    the frame rate does not wait for the detector. The first frame waits for its labels."""
    faces = faces or LiveFaces()
    if frame is None:
        return None, faces
    check_variant(variant)
    if faces.search is not None and (faces.labels is None or faces.search.done()):
        faces.labels = faces.search.result()
        faces.search = None
    if faces.search is None:
        faces.search = _searches.submit(find_faces, frame, variant)
        if faces.labels is None:
            faces.labels = faces.search.result()
    labels = faces.labels
    picture = annotate(Image.fromarray(frame), labels.boxes, labels.captions)
    return picture, faces


@dataclass
class LiveTab:
    tab: gr.Tab
    camera: gr.Image
    variant: gr.Radio
    frames: LiveFrame


def live_tab(variant_choices: list[tuple[str, str]]) -> LiveTab:
    """Build the tab (inside a `gr.Blocks`) and wire its stream."""
    with gr.Tab("Live camera", elem_id=TAB_ID) as tab:
        gr.Markdown(
            "Allow the camera, press **Record** and every face is boxed with its age (80% "
            "margin) and gender, live. Frames are judged as they come and dropped while the "
            f"server is busy; a stream stops after {TIME_LIMIT} s, when you leave this tab, or "
            "on **Stop**. Frames are processed in memory and never stored. One camera is "
            "served at a time; others wait their turn."
        )
        variant = gr.Radio(variant_choices, value="cropped", label="Model")
        with gr.Row():
            camera = gr.Image(
                label="Camera",
                sources=["webcam"],
                streaming=True,
                type="numpy",
                elem_id=CAMERA_ID,
                webcam_options=gr.WebcamOptions(
                    mirror=True, constraints={"video": {"width": 640, "height": 480}}
                ),
                height=400,
            )
            frames = LiveFrame(
                label="Faces, live", elem_id=FRAMES_ID, interactive=False, height=400
            )
    faces = gr.State(None)
    camera.stream(
        label_frame,
        [camera, variant, faces],
        [frames, faces],
        stream_every=STREAM_EVERY,
        time_limit=TIME_LIMIT,
        concurrency_limit=CONCURRENCY,
        concurrency_id="live",
        show_progress="hidden",
        api_visibility="undocumented",
    )
    tab.select(None, js=STOP_WHEN_LEFT)
    return LiveTab(tab, camera, variant, frames)
