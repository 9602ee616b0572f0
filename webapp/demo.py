"""The Gradio demo: a photo in, age with its margin, gender, saliency maps and the models' record.

``python app.py`` starts it. The handlers below are plain functions over ``model`` (the
predictor, explanations and renderings) and ``webapp.figures``; the layout only wires them.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import gradio as gr
import pandas as pd
from PIL import Image

from model import shipped
from model.explain import METHODS
from model.predictor import (
    AGE_BUCKET_LABELS,
    VARIANT_NAMES,
    FacePrediction,
    ImageError,
    Predictor,
    shared_predictor,
)
from model.render import annotate, overlay
from webapp import figures
from webapp.live import live_tab
from webapp.many_photos import many_photos_tab

log = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
VARIANT_CHOICES = [(f"{VARIANT_NAMES[v]} model", v) for v in ("cropped", "full")]
METHOD_CHOICES = [(name, key) for key, name in METHODS.items()]
CONCURRENCY = 2
"""Requests worked on at once: one per CPU core of the free Hugging Face hardware."""
QUEUE_SIZE = 16
"""Requests waiting beyond those are turned away with a message instead of piling up."""
MAX_FILE_SIZE = "25mb"
CACHE_SECONDS = int(os.environ.get("DEMO_CACHE_SECONDS", "120"))
CACHE_CLEANUP = (min(60, CACHE_SECONDS), CACHE_SECONDS)
"""Gradio deletes cached uploads and pictures older than `CACHE_SECONDS` (120 by default;
the environment variable DEMO_CACHE_SECONDS changes it), checking every minute at most."""
UNEXPECTED = "Something went wrong while reading this photo. Please try another one."


def predictor(variant: str) -> Predictor:
    """The shared predictor of a variant; an unknown variant is a readable error."""
    if variant not in VARIANT_NAMES:
        raise gr.Error(f"Unknown model {variant!r}: choose 'cropped' or 'full'.")
    return shared_predictor(variant)


class PhotoInput(gr.Image):
    """Gradio's image input, but it hands the handler the uploaded file untouched: decoding
    (EXIF rotation, odd modes, size limits, readable errors) is the predictor's job."""

    is_template = True

    def preprocess(self, payload):
        if payload is None or (payload.url or "").startswith("data:"):
            return super().preprocess(payload)
        return payload.path


def _read_upload(photo: str | None) -> bytes:
    """The uploaded file's bytes. Gradio stores identical uploads once and shares them between
    requests, so the file is left to Gradio's timed clean-up (`CACHE_CLEANUP`), not deleted."""
    if photo is None:
        raise gr.Error("Please upload a photo first (or take one with the webcam).")
    path = Path(photo)
    if not path.is_file():
        raise gr.Error(
            "This photo is no longer on the server (uploads are deleted after a few minutes, "
            "for your privacy). Please upload it again."
        )
    return path.read_bytes()


def _predict(photo: str | None, variant: str):
    data = _read_upload(photo)
    try:
        return predictor(variant).predict(data)
    except ImageError as error:
        raise gr.Error(str(error)) from None
    except gr.Error:
        raise
    except Exception:
        log.exception("prediction failed")
        raise gr.Error(UNEXPECTED) from None


def predict_json(photo: str | None, variant: str = "cropped") -> dict:
    """The ``predict`` API: every face with its box (x, y, width, height in photo pixels), age
    and 80%/90% intervals (years), Adience age group, gender and its probability."""
    return _predict(photo, variant).to_dict()


def faces_table(faces: list[FacePrediction]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "face": number,
                "age": round(face.age),
                "80% interval": f"{face.interval_80[0]:.0f}-{face.interval_80[1]:.0f}",
                "90% interval": f"{face.interval_90[0]:.0f}-{face.interval_90[1]:.0f}",
                "age group": face.age_group,
                "gender": face.gender,
                "probability": f"{face.gender_probability:.0%}",
            }
            for number, face in enumerate(faces, start=1)
        ],
        columns=["face", "age", "80% interval", "90% interval", "age group", "gender",
                 "probability"],
    )  # fmt: skip


def analyse(photo: str | None, variant: str):
    """Predict button: (labelled photo, faces table, faces for the state, face selector, note)."""
    result = _predict(photo, variant)
    scale = result.photo.width / result.image_size[0]
    labelled = annotate(
        result.photo, [f.box for f in result.faces], [f.label() for f in result.faces], scale
    )
    choices = [(f"Face {n}: {f.label()}", n - 1) for n, f in enumerate(result.faces, start=1)]
    if result.faces:
        note = (
            f"{len(result.faces)} face(s). Age: the model's estimate, and the range that held "
            "the true age for 80% of test faces like it. Gender: the model's probability."
        )
    else:
        note = result.message
    selector = gr.update(choices=choices, value=0 if choices else None)
    return labelled, faces_table(result.faces), result.faces, selector, note


def face_maps(faces: list[FacePrediction] | None, index: int | None, method: str, opacity: float):
    """The selected face's maps for the age and the gender model, as overlays."""
    if not faces or index is None or index >= len(faces):
        return None, None
    face = faces[index]
    maps = predictor(face_variant(faces)).explain(face, method)
    return overlay(face.face, maps["age"], opacity), overlay(face.face, maps["gender"], opacity)


def face_variant(faces: list[FacePrediction]) -> str:
    """Which variant produced these faces (a detection confidence means the cropped one)."""
    return "full" if faces[0].detection_confidence is None else "cropped"


def slide(faces: list[FacePrediction] | None, index: int | None, opacity: float):
    """The 1920x1080 presentation figure of the selected face, every method."""
    if not faces or index is None or index >= len(faces):
        raise gr.Error("Predict a photo with a face first.")
    png = predictor(face_variant(faces)).presentation(faces[index], opacity=opacity)
    return Image.open(io.BytesIO(png))


def average_map_gallery(variant: str, task: str) -> list[tuple[Image.Image, str]]:
    """(picture, caption) of each shipped average Grad-CAM map, age buckets then genders."""
    maps = shipped.average_maps(variant)[task]
    order = [f"age_{label}" for label in AGE_BUCKET_LABELS] + ["gender_male", "gender_female"]
    return [
        (Image.open(maps[group]["path"]), f"{group.split('_', 1)[1]} (n={maps[group]['n']})")
        for group in order
        if group in maps
    ]


ABOUT = """
## About this demo

**What it does.** It estimates a person's age and gender from a face photo with two small
convolutional networks per input variant (one for age, one for gender), trained from scratch on
a CPU, and shows *why* with saliency maps.

**Data.** [UTKFace](https://susanqq.github.io/UTKFace/): about 23,000 face chips aged 0-116,
labelled with age, gender (male/female, as the data set records it) and race. Its licence
allows **non-commercial research only**; the images stay with their owners. We removed ages
over 80 (too few to learn) and kept a third of the toddlers aged 0-4 (they would otherwise
dominate), then split 70/15/15 into training, validation and test sets, stratified by age and
gender.

**Two variants.** *Cropped face*: a face detector (MTCNN) finds every face, each is cropped
tightly and judged on its own. *Full image*: the whole picture, as UTKFace's chips show it
(hair, neck, some background); it needs no detector but expects one face filling the photo.

**The margin.** The interval after the age is calibrated on held-out faces (split-conformal,
per predicted-age range): for 80% of test faces with a similar prediction, the true age fell
inside it. It is wider for older people, whose age is harder to read.

**Known limits.** Errors are largest for the elderly and gender is least reliable for young
children. Unusual poses, heavy make-up, masks, strong lighting and photos unlike UTKFace's
chips (drawings, very low resolution) give unreliable answers. Gender is predicted as a binary
label because the data set has only two; it says nothing about a person's identity.

**Reading the maps.** Red marks the pixels that moved the prediction most. Grad-CAM (the
default), Grad-CAM++ and Score-CAM pass the sanity check of Adebayo et al. (2018): their maps
change completely when the model's weights are replaced by random ones, so they show what the
model learnt. Vanilla saliency and SmoothGrad keep much of the face's outline even for a random
network: read them as "where the edges are that the model is sensitive to", with care.

**Privacy.** Photos are processed in memory. Nothing you upload is stored: Gradio's temporary
copies are deleted within three minutes and nothing is logged or flagged.
"""


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="Age and gender, explained", delete_cache=CACHE_CLEANUP) as demo:
        gr.Markdown(
            "# Age and gender, explained\nUpload a face photo: two neural networks estimate "
            "the age (with a margin) and the gender, and saliency maps show what they looked at."
        )
        faces_state = gr.State([])
        with gr.Tab("Predict"):
            with gr.Row():
                with gr.Column(scale=1):
                    photo = PhotoInput(
                        label="Photo",
                        type="filepath",
                        image_mode=None,
                        sources=["upload", "webcam", "clipboard"],
                        height=360,
                    )
                    variant = gr.Radio(VARIANT_CHOICES, value="cropped", label="Model")
                    run = gr.Button("Estimate age and gender", variant="primary")
                    examples_slot = gr.Column()
                with gr.Column(scale=1):
                    labelled = gr.Image(label="Result", type="pil", format="jpeg", height=360)
                    note = gr.Markdown(elem_id="result-note")
                    table = gr.Dataframe(label="Faces", interactive=False, elem_id="faces-table")
            gr.Markdown("### Why? Saliency maps of the selected face")
            with gr.Row():
                face = gr.Dropdown(label="Face", choices=[], interactive=True)
                method = gr.Dropdown(METHOD_CHOICES, value="gradcam", label="Method")
                opacity = gr.Slider(0, 1, value=0.5, step=0.05, label="Map opacity")
            with gr.Row():
                age_map = gr.Image(label="Age model", height=280, elem_id="age-map")
                gender_map = gr.Image(label="Gender model", height=280, elem_id="gender-map")
            with gr.Row():
                make_slide = gr.Button("Make a slide of every method (1920x1080 PNG)")
            slide_image = gr.Image(
                label="Presentation figure (download button at the top right)",
                type="pil",
                format="png",
                buttons=["download", "fullscreen"],
                interactive=False,
            )
            api_result = gr.JSON(visible=False)
            with examples_slot:
                gr.Examples(
                    [[str(p), "cropped"] for p in sorted(EXAMPLES_DIR.glob("*.png"))],
                    inputs=[photo, variant],
                    outputs=[labelled, table, faces_state, face, note],
                    fn=analyse,
                    cache_examples=True,
                    cache_mode="lazy",
                    label="Examples (drawn faces, free to use)",
                )
        live_tab(VARIANT_CHOICES)
        many_photos_tab(VARIANT_CHOICES)
        with gr.Tab("Training metrics"):
            curves_variant = gr.Radio(VARIANT_CHOICES, value="cropped", label="Model")
            age_curves = gr.Plot(figures.training_curves("cropped", "age"))
            gender_curves = gr.Plot(figures.training_curves("cropped", "gender"))
        with gr.Tab("Evaluation"):
            gr.Markdown("Test split: faces that played no part in training or tuning.")
            gr.Dataframe(figures.headline_table(), interactive=False)
            gr.Plot(figures.error_by_age_bucket())
            eval_variant = gr.Radio(VARIANT_CHOICES, value="cropped", label="Model")
            with gr.Row():
                scatter = gr.Plot(figures.predicted_against_true("cropped"))
                confusion = gr.Plot(figures.confusion_matrix("cropped"))
            coverage = gr.Plot(figures.interval_coverage("cropped"))
            groups = gr.Dataframe(figures.group_table("cropped"), interactive=False)
        with gr.Tab("Average saliency maps"):
            gr.Markdown(
                "Grad-CAM averaged over the test faces of each age bucket and gender, drawn "
                "over their average face: what each model looks at, on average."
            )
            maps_variant = gr.Radio(VARIANT_CHOICES, value="cropped", label="Model")
            age_gallery = gr.Gallery(
                average_map_gallery("cropped", "age"), label="Age model", columns=10
            )
            gender_gallery = gr.Gallery(
                average_map_gallery("cropped", "gender"), label="Gender model", columns=10
            )
        with gr.Tab("About"):
            gr.Markdown(ABOUT)

        run.click(
            analyse,
            [photo, variant],
            [labelled, table, faces_state, face, note],
            api_name="analyse",
            api_visibility="undocumented",
        ).then(face_maps, [faces_state, face, method, opacity], [age_map, gender_map])
        for control in (face, method, opacity):
            control.change(
                face_maps,
                [faces_state, face, method, opacity],
                [age_map, gender_map],
                api_name="face_maps" if control is method else None,
                api_visibility="undocumented",
            )
        make_slide.click(
            slide, [faces_state, face, opacity], slide_image, api_visibility="undocumented"
        )
        gr.Button(visible=False).click(
            predict_json, [photo, variant], api_result, api_name="predict"
        )
        curves_variant.change(
            lambda v: (figures.training_curves(v, "age"), figures.training_curves(v, "gender")),
            curves_variant,
            [age_curves, gender_curves],
            api_visibility="undocumented",
        )
        eval_variant.change(
            lambda v: (
                figures.predicted_against_true(v),
                figures.confusion_matrix(v),
                figures.interval_coverage(v),
                figures.group_table(v),
            ),
            eval_variant,
            [scatter, confusion, coverage, groups],
            api_visibility="undocumented",
        )
        maps_variant.change(
            lambda v: (average_map_gallery(v, "age"), average_map_gallery(v, "gender")),
            maps_variant,
            [age_gallery, gender_gallery],
            api_visibility="undocumented",
        )
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def launch(demo: gr.Blocks | None = None, **options):
    """Start the demo; host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT."""
    for variant in VARIANT_NAMES:
        predictor(variant)  # load before the first visitor, not during their request
    demo = demo or build_demo()
    return demo.launch(
        max_file_size=MAX_FILE_SIZE,
        theme=gr.themes.Soft(),
        footer_links=["api"],
        **options,
    )
