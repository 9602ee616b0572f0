"""The Dash analysis dashboard: the data set, the models' record, and one prediction against a
known truth with its saliency maps beside the model's average habits.

``python -m webapp.dashboard [--host H] [--port P]`` (or HOST / PORT in the environment).

The callback logic lives in plain functions (``predict_view``, ``maps_view``, ...) over
``model`` and ``webapp.figures``; the Dash wiring at the bottom only connects them.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import io
import os
import sys

import dash_bootstrap_components as dbc
import numpy as np
from dash import Dash, Input, Output, dash_table, dcc, html
from PIL import Image

from faces import ImageError
from model import sanity, shipped
from model.predictor import (
    AGE_BUCKET_LABELS,
    VARIANT_NAMES,
    age_bucket,
    shared_predictor,
)
from model.render import map_picture, multiply
from webapp import figures

MAX_UPLOAD_BYTES = 25 * 2**20
VARIANT_OPTIONS = [{"label": f"{VARIANT_NAMES[v]} model", "value": v} for v in ("cropped", "full")]


def method_options(variant: str) -> list[dict]:
    """The method menu of a variant (`model.sanity.menu`) as Dash options."""
    return [{"label": label, "value": method} for label, method in sanity.menu(variant)]


def method_verdict(method: str, variant: str) -> dcc.Markdown:
    """Under the method picker: the method's sanity verdict in words, and how to read it."""
    return dcc.Markdown(sanity.note(method, variant))


def png_url(picture: np.ndarray | Image.Image) -> str:
    """A data URL (PNG) for an image element."""
    image = picture if isinstance(picture, Image.Image) else Image.fromarray(picture)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def decode_upload(contents: str | None) -> bytes:
    """The bytes of a dcc.Upload data URL. Raises ImageError for anything unusable."""
    if not contents:
        raise ImageError("Please choose a photo to upload.")
    try:
        data = base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (IndexError, binascii.Error):
        raise ImageError("The upload could not be read. Please try the file again.") from None
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MB.")
    return data


def _truth_line(inside: bool, yes: str, no: str) -> html.Div:
    return html.Div(
        ("✔ " + yes) if inside else ("✘ " + no),
        className="text-success fw-bold" if inside else "text-danger fw-bold",
    )


def face_card(number: int, face, true_age: float | None, true_gender: str | None) -> dbc.Card:
    """One face: predicted age with its intervals, gender with its probability, and where a
    truth was given, whether it lies inside the interval and whether the gender is right."""
    low80, high80 = face.interval_80
    low90, high90 = face.interval_90
    body = [
        html.Img(src=png_url(face.face), style={"width": "96px", "float": "right"}),
        html.H5(f"Face {number}", className="card-title"),
        html.H3(f"{face.age:.0f} years", className="mb-0"),
        html.Div(
            f"80%: {low80:.0f}-{high80:.0f} · 90%: {low90:.0f}-{high90:.0f}", className="text-muted"
        ),  # fmt: skip
        html.H4(f"{face.gender} {face.gender_probability:.0%}", className="mt-2 mb-0"),
        html.Div(f"age group {face.age_group}", className="text-muted"),
    ]
    if true_age is not None:
        body.append(
            _truth_line(
                low80 <= true_age <= high80,
                f"true age {true_age:g} inside the 80% interval",
                f"true age {true_age:g} outside the 80% interval",
            )
        )
    if true_gender:
        body.append(
            _truth_line(face.gender == true_gender, "gender right", f"gender wrong ({true_gender})")
        )
    return dbc.Card(dbc.CardBody(body), className="mb-2 prediction-card", style={"width": "22rem"})


def predict_view(contents, variant, true_age, true_gender) -> tuple[list, list, dict | None]:
    """Upload -> (cards, alert children, store of the faces for the maps)."""
    try:
        result = shared_predictor(variant).predict(decode_upload(contents))
    except ImageError as error:
        return [], [dbc.Alert(str(error), color="danger", dismissable=True)], None
    if not result.faces:
        return [], [dbc.Alert(result.message, color="warning")], None
    cards = [
        face_card(n, face, true_age, true_gender or None)
        for n, face in enumerate(result.faces, start=1)
    ]
    store = {
        "variant": variant,
        "faces": [png_url(face.face) for face in result.faces],
        "ages": [face.age for face in result.faces],
    }
    alerts = [dbc.Alert(result.message, color="warning")] if result.message else []
    return cards, alerts, store


def _face_from_url(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def maps_view(store: dict | None, method: str, opacity: float) -> list:
    """For the first (largest) face: each model's map over the face, the face multiplied by the
    map, and the model's average map for the predicted age bucket."""
    if not store:
        return []
    face = _face_from_url(store["faces"][0])
    variant = store["variant"]
    maps = shared_predictor(variant).explain(face, method)
    bucket = AGE_BUCKET_LABELS[int(age_bucket(round(store["ages"][0])))]
    averages = shipped.average_maps(variant)
    rows = []
    for task, heat in maps.items():
        average = averages[task].get(f"age_{bucket}")
        pictures = [
            ("map over the face", png_url(map_picture(face, heat, opacity))),
            ("face × map", png_url(multiply(face, heat))),
        ]
        if average:
            pictures.append(
                (f"average map, ages {bucket} (n={average['n']})",
                 png_url(Image.open(average["path"]).resize((256, 256))))
            )  # fmt: skip
        label = sanity.verdict(sanity.load(variant), method).label
        rows.append(html.H5(f"{task.capitalize()} model · {label}", className="mt-3"))
        rows.append(
            dbc.Row(
                [
                    dbc.Col(
                        [html.Img(src=src, style={"width": "100%"}), html.Small(caption)],
                        width=4,
                        lg=3,
                    )
                    for caption, src in pictures
                ]
            )
        )
    return rows


def split_table(variant: str) -> list[dict]:
    """Headline figures per split (train, val, test) of one variant."""
    rows = []
    for split in ("train", "val", "test"):
        metrics = shipped.metrics(variant, split=split)
        rows.append(
            {
                "split": split,
                "images": metrics["n"],
                "age MAE": round(metrics["age"]["mae"], 2),
                "age RMSE": round(metrics["age"]["rmse"], 2),
                "gender accuracy": round(metrics["gender"]["accuracy"], 3),
            }
        )
    return rows


def models_view(variant: str) -> list:
    return [
        dash_table.DataTable(split_table(variant), style_cell={"textAlign": "left"}),
        dcc.Graph(figure=figures.error_by_age_bucket((variant,))),
        dbc.Row(
            [
                dbc.Col(dcc.Graph(figure=figures.predicted_against_true(variant)), lg=7),
                dbc.Col(dcc.Graph(figure=figures.confusion_matrix(variant)), lg=5),
            ]
        ),
        dcc.Graph(figure=figures.shown_age_map(variant)),
        dcc.Graph(figure=figures.interval_coverage(variant)),
        dcc.Graph(figure=figures.margin_by_face_size(variant)),
        html.H5("Per group (test split)"),
        dash_table.DataTable(
            figures.group_table(variant).to_dict("records"), style_cell={"textAlign": "left"}
        ),
        dcc.Graph(figure=figures.training_curves(variant, "age")),
        dcc.Graph(figure=figures.training_curves(variant, "gender")),
    ]


def _data_tab() -> list:
    report = shipped.data_report()
    rebalance = report["rebalance"]
    splits = {split: report["distributions"][split]["count"] for split in ("train", "val", "test")}
    summary = (
        f"{rebalance['before']:,} usable images; {rebalance['removed_over_max_age']:,} over 80 "
        f"removed; toddlers (0-4) {rebalance['toddlers_before']:,} → "
        f"{rebalance['toddlers_after']:,}; {rebalance['after']:,} kept and split 70/15/15 into "
        f"train/validation/test ({splits['train']:,}/{splits['val']:,}/{splits['test']:,}). "
        f"The face detector found no face in {report['detector']['fallbacks']} of them: those "
        "chips were used as they are, being aligned already."
    )
    return [
        dbc.Alert(summary, color="info", className="mt-3"),
        dcc.RadioItems(
            [
                {"label": f" {name} ", "value": key}
                for key, name in (
                    ("age_bucket", "age bucket"),
                    ("age", "age"),
                    ("gender", "gender"),
                    ("race", "race"),
                )
            ],  # fmt: skip
            value="age_bucket",
            id="distribution-field",
            inline=True,
        ),
        dcc.Graph(id="distribution"),
    ]


def _predict_tab() -> list:
    return [
        dbc.Row(
            [
                dbc.Col(
                    [
                        dcc.Upload(
                            id="upload",
                            children=html.Div(["Drag a photo here or ", html.A("choose one")]),
                            accept="image/*",
                            max_size=MAX_UPLOAD_BYTES,
                            className="border border-2 rounded p-4 text-center mt-3",
                        ),
                        dbc.Label("Model", className="mt-2"),
                        dbc.RadioItems(VARIANT_OPTIONS, value="cropped", id="predict-variant"),
                        dbc.Label("True age (optional)", className="mt-2"),
                        dbc.Input(id="true-age", type="number", min=0, max=120, step=1),
                        dbc.Label("True gender (optional)", className="mt-2"),
                        dbc.RadioItems(
                            [
                                {"label": "not given", "value": ""},
                                {"label": "male", "value": "male"},
                                {"label": "female", "value": "female"},
                            ],
                            value="",
                            id="true-gender",
                            inline=True,
                        ),  # fmt: skip
                        dbc.Label("Saliency method", className="mt-2"),
                        dcc.Dropdown(
                            method_options("cropped"), value="gradcam", id="method", clearable=False
                        ),
                        html.Small(method_verdict("gradcam", "cropped"), id="method-verdict"),
                        dbc.Label("Map opacity", className="mt-2"),
                        dcc.Slider(0, 1, 0.1, value=0.5, id="opacity"),
                    ],
                    lg=4,
                ),
                dbc.Col(
                    dcc.Loading(
                        [html.Div(id="alerts", className="mt-3"), html.Div(id="cards")],
                        type="circle",
                    ),
                    lg=8,
                ),
            ]
        ),
        dcc.Store(id="faces"),
        dcc.Loading(html.Div(id="maps"), type="dot"),
    ]


def build_app() -> Dash:
    app = Dash(__name__, title="Age and gender: analysis", suppress_callback_exceptions=True)
    app.layout = dbc.Container(
        [
            html.H2("Age and gender models: analysis dashboard", className="mt-3"),
            dbc.Tabs(
                [
                    dbc.Tab(_data_tab(), label="Data set", tab_id="data"),
                    dbc.Tab(
                        [
                            dbc.RadioItems(
                                VARIANT_OPTIONS,
                                value="cropped",
                                id="models-variant",
                                inline=True,
                                className="mt-3",
                            ),
                            html.Div(id="models"),
                        ],
                        label="Models",
                        tab_id="models",
                    ),
                    dbc.Tab(_predict_tab(), label="Predict", tab_id="predict"),
                ],
                active_tab="predict",
            ),
        ],
        fluid=True,
    )
    app.callback(Output("distribution", "figure"), Input("distribution-field", "value"))(
        lambda field: figures.distribution(shipped.data_report(), field)
    )
    app.callback(Output("models", "children"), Input("models-variant", "value"))(models_view)
    app.callback(
        Output("cards", "children"),
        Output("alerts", "children"),
        Output("faces", "data"),
        Input("upload", "contents"),
        Input("predict-variant", "value"),
        Input("true-age", "value"),
        Input("true-gender", "value"),
        prevent_initial_call=True,
    )(predict_view)
    app.callback(
        Output("method", "options"),
        Output("method-verdict", "children"),
        Input("method", "value"),
        Input("predict-variant", "value"),
    )(lambda method, variant: (method_options(variant), method_verdict(method, variant)))
    app.callback(
        Output("maps", "children"),
        Input("faces", "data"),
        Input("method", "value"),
        Input("opacity", "value"),
        running=[(Output("method", "disabled"), True, False)],
    )(maps_view)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webapp.dashboard", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8050")))
    args = parser.parse_args(argv)
    for variant in VARIANT_NAMES:
        shared_predictor(variant)
    build_app().run(host=args.host, port=args.port, debug=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
