"""Plotly figures and tables of the shipped artefacts, shared by the Gradio demo and the Dash
dashboard: training curves, test-split evaluation and data-set distributions.

Every function reads what ``model.shipped`` gives (histories, run info, metrics.json, the data
report, the calibration); none computes a prediction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from model import shipped

VARIANT_COLOURS = {"cropped": "#1f77b4", "full": "#ff7f0e"}
SMOOTHING_LINE = {"color": "#d62728", "dash": "dash"}
"""The line where a gender model's training switched to label smoothing."""
WEIGHTING_LINE = {"color": "#9467bd", "dash": "dash"}
"""The line where an age model's training began to weigh errors relative to the age."""
CURVES = {
    "age": [("loss", "MSE (years²)"), ("mae", "MAE (years)")],
    "gender": [("loss", "cross-entropy"), ("accuracy", "accuracy"), ("auc", "AUC")],
}
TEMPLATE = "plotly_white"


def training_curves(variant: str, task: str) -> go.Figure:
    """Per-epoch curves of every loss and metric, training against validation, with the
    epoch that ships marked, and where the last schedule started label smoothing or weighing
    errors relative to the age (either changes the training loss's ruler)."""
    history = shipped.history(variant, task)
    run = shipped.run_info(variant, task)
    best = run.get("best_epoch")
    panels = CURVES[task]
    figure = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for _, t in panels])
    for column, (metric, _) in enumerate(panels, start=1):
        for prefix, name, dash in (("", "training", "solid"), ("val_", "validation", "dash")):
            figure.add_trace(
                go.Scatter(
                    x=history["epoch"],
                    y=history[prefix + metric],
                    name=name,
                    mode="lines+markers",
                    line={"dash": dash, "color": "#444" if prefix else "#1f77b4"},
                    showlegend=column == 1,
                    legendgroup=name,
                ),
                row=1,
                col=column,
            )
        if best:
            figure.add_vline(x=best, line={"color": "green", "dash": "dot"}, row=1, col=column)
        figure.update_xaxes(title_text="epoch", row=1, col=column)
    config = run.get("config", {})
    smoothing, relative = config.get("label_smoothing", 0.0), config.get("relative_to_age", 0.0)
    later = run.get("schedule_start", 0) > 0  # the option came with the last schedule
    notes = []
    if smoothing:
        notes.append(
            f"Red dashed line: label smoothing {smoothing:g} from there on. The loss is then "
            "measured against smoothed targets, so it jumps up; accuracy is what to compare."
            if later
            else f"Trained with label smoothing {smoothing:g} throughout: the loss is measured "
            "against smoothed targets, so it never nears zero; accuracy is what to compare."
        )
    if relative:
        notes.append(
            f"Purple dashed line: from there on each face weighs (age + {relative:g})^-2, so the "
            "training loss, a weighted mean, drops; validation is unweighted."
            if later
            else f"Each face weighs (age + {relative:g})^-2: the training loss is a weighted mean."
        )
    for line, used in ((SMOOTHING_LINE, smoothing), (WEIGHTING_LINE, relative)):
        if used and later:
            figure.add_vline(x=run["schedule_start"] + 0.5, line=line, row="all", col="all")
    figure.update_layout(
        title=f"{task.capitalize()} model, {variant} variant (dotted line: shipped epoch {best})"
        + "".join(f"<br><sup>{note}</sup>" for note in notes),
        template=TEMPLATE,
        height=340 + 25 * max(len(notes) - 1, 0),
        margin={"t": 70 + 25 * len(notes), "b": 40, "l": 40, "r": 20},
    )
    return figure


def _bucket_frame(variant: str) -> pd.DataFrame:
    buckets = shipped.metrics(variant)["by_age_bucket"]
    return pd.DataFrame(
        {
            "bucket": list(buckets),
            "n": [b["n"] for b in buckets.values()],
            "mae": [b["age"]["mae"] for b in buckets.values()],
            "accuracy": [b["gender"]["accuracy"] for b in buckets.values()],
        }
    )


def error_by_age_bucket(variants=("cropped", "full")) -> go.Figure:
    """Age MAE and gender accuracy per true-age bucket, with the bucket sizes."""
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=["Age error (MAE, years)", "Gender accuracy"]
    )
    for variant in variants:
        table = _bucket_frame(variant)
        for column, metric in ((1, "mae"), (2, "accuracy")):
            figure.add_trace(
                go.Bar(
                    x=table["bucket"],
                    y=table[metric],
                    name=variant,
                    marker_color=VARIANT_COLOURS[variant],
                    customdata=table["n"],
                    hovertemplate="%{x}: %{y:.3f} (n=%{customdata})<extra>" + variant + "</extra>",
                    showlegend=column == 1,
                    legendgroup=variant,
                ),
                row=1,
                col=column,
            )
    figure.update_xaxes(title_text="true age")
    figure.update_yaxes(range=[0.5, 1], row=1, col=2)
    figure.update_layout(
        barmode="group", template=TEMPLATE, height=360, title="Where the errors are"
    )
    return figure


def predicted_against_true(variant: str) -> go.Figure:
    """Median predicted age per true age with the 10th-90th percentile band."""
    by_age = shipped.metrics(variant)["predicted_by_true_age"]
    ages = [int(age) for age in by_age]
    rows = list(by_age.values())
    figure = go.Figure(
        [
            go.Scatter(x=ages, y=[r["p90"] for r in rows], line={"width": 0}, showlegend=False),
            go.Scatter(
                x=ages,
                y=[r["p10"] for r in rows],
                fill="tonexty",
                line={"width": 0},
                fillcolor="rgba(31,119,180,0.25)",
                name="10th-90th percentile",
            ),
            go.Scatter(
                x=ages,
                y=[r["median"] for r in rows],
                customdata=[r["n"] for r in rows],
                hovertemplate="true %{x}: median %{y:.1f} (n=%{customdata})",
                name="median prediction",
                line={"color": VARIANT_COLOURS[variant]},
            ),
            go.Scatter(
                x=[0, max(ages)],
                y=[0, max(ages)],
                name="perfect",
                line={"color": "gray", "dash": "dot"},
            ),
        ]
    )
    figure.update_layout(
        title=f"Predicted against true age ({variant}, test split)",
        xaxis_title="true age",
        yaxis_title="predicted age",
        template=TEMPLATE,
        height=380,
    )
    return figure


def shown_age_map(variant: str) -> go.Figure:
    """How many years the shown age differs from the age network's answer, for each answer
    (the calibration's quantile map): what undoes the network's pull towards the middle ages."""
    calibration = shipped.calibration(variant)
    answers = sorted({0.0, *calibration.network_quantiles, 90.0})
    figure = go.Figure(
        go.Scatter(
            x=answers,
            y=calibration.age(answers) - answers,
            mode="lines",
            line={"color": VARIANT_COLOURS[variant]},
            hovertemplate="answer %{x:.1f}: shown %{y:+.1f} years<extra></extra>",
        )
    )
    figure.add_hline(y=0, line={"color": "gray", "dash": "dot"})
    figure.update_layout(
        title=f"From the network's answer to the age shown ({variant}): below 0, shown younger",
        xaxis_title="the age network's answer (years)",
        yaxis_title="shown age minus the answer (years)",
        template=TEMPLATE,
        height=340,
    )
    return figure


def margin_by_face_size(variant: str) -> go.Figure:
    """The width of the 80% margin for each shown age, for a clear face and for faces whose
    model input spans each of the calibration's small sides: the smaller, the less sure."""
    calibration = shipped.calibration(variant)
    shown = np.arange(0.0, 80.5, 0.5)
    sizes = {"clear face": np.inf}
    sizes |= {f"{side} pixels": float(side) for side in reversed(calibration.sides)}
    figure = go.Figure()
    for index, (name, span) in enumerate(sizes.items()):
        low, high = calibration.interval(shown, 0.8, np.full(shown.size, span))
        figure.add_trace(
            go.Scatter(
                x=shown,
                y=high - low,
                name=name,
                mode="lines",
                line={"color": VARIANT_COLOURS[variant], "width": 3 - 0.5 * index},
                opacity=1 - 0.17 * index,
                hovertemplate=f"{name}, shown %{{x:.0f}}: %{{y:.1f}} years wide<extra></extra>",
            )
        )
    figure.update_layout(
        title=f"How wide the 80% margin is, by the face's size in the photo ({variant})",
        xaxis_title="shown age (years)",
        yaxis_title="width of the 80% margin (years)",
        template=TEMPLATE,
        height=360,
    )
    return figure


def confusion_matrix(variant: str) -> go.Figure:
    """The gender confusion matrix on the test split, counts and row shares."""
    matrix = shipped.metrics(variant)["gender"]["confusion_matrix"]
    labels, counts = matrix["labels"], matrix["matrix"]
    shares = [[v / max(1, sum(row)) for v in row] for row in counts]
    text = [[f"{v}<br>{s:.1%}" for v, s in zip(row, srow, strict=True)]
            for row, srow in zip(counts, shares, strict=True)]  # fmt: skip
    figure = go.Figure(
        go.Heatmap(
            z=shares,
            x=[f"predicted {label}" for label in labels],
            y=[f"true {label}" for label in labels],
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            showscale=False,
        )
    )
    figure.update_layout(
        title=f"Gender confusion matrix ({variant})",
        template=TEMPLATE,
        height=340,
        yaxis={"autorange": "reversed"},
    )
    return figure


def interval_coverage(variant: str) -> go.Figure:
    """Share of true ages inside the 80% and 90% intervals, overall and per age bucket,
    against the nominal level."""
    metrics = shipped.metrics(variant)
    groups = {"all": metrics, **metrics["by_age_bucket"]}
    figure = go.Figure()
    for level, colour in (("0.8", "#9ecae1"), ("0.9", "#3182bd")):
        figure.add_trace(
            go.Bar(
                x=list(groups),
                y=[g["age_interval_coverage"][level]["coverage"] for g in groups.values()],
                name=f"{float(level):.0%} interval",
                marker_color=colour,
            )
        )
        figure.add_hline(y=float(level), line={"dash": "dot", "color": colour})
    figure.update_layout(
        barmode="group",
        title=f"How often the true age falls inside the interval ({variant})",
        yaxis={"range": [0, 1], "tickformat": ".0%"},
        xaxis_title="true age",
        template=TEMPLATE,
        height=360,
    )
    return figure


def group_table(variant: str) -> pd.DataFrame:
    """Test-split figures per gender and per race: images, age MAE, gender accuracy, coverage."""
    metrics = shipped.metrics(variant)
    rows = []
    for kind in ("by_gender", "by_race"):
        for group, figures in metrics[kind].items():
            rows.append(
                {
                    "group": f"{kind[3:]}: {group}",
                    "images": figures["n"],
                    "age MAE": round(figures["age"]["mae"], 2),
                    "age RMSE": round(figures["age"]["rmse"], 2),
                    "gender accuracy": round(figures["gender"]["accuracy"], 3),
                    "80% coverage": round(figures["age_interval_coverage"]["0.8"]["coverage"], 3),
                }
            )
    return pd.DataFrame(rows)


def headline_table() -> pd.DataFrame:
    """One row per variant: the test-split headline figures."""
    rows = []
    for variant in ("cropped", "full"):
        metrics = shipped.metrics(variant)
        rows.append(
            {
                "variant": variant,
                "test images": metrics["n"],
                "age MAE": round(metrics["age"]["mae"], 2),
                "age RMSE": round(metrics["age"]["rmse"], 2),
                "within 5 years": round(metrics["age"]["cs5"], 3),
                "gender accuracy": round(metrics["gender"]["accuracy"], 3),
                "gender AUC": round(metrics["gender"]["auc"], 3),
                "80% coverage": round(metrics["age_interval_coverage"]["0.8"]["coverage"], 3),
                "90% coverage": round(metrics["age_interval_coverage"]["0.9"]["coverage"], 3),
            }
        )
    return pd.DataFrame(rows)


DISTRIBUTION_STAGES = {
    "before_rebalance": "all usable images",
    "after_rebalance": "after rebalancing",
    "train": "train",
    "val": "validation",
    "test": "test",
}


def distribution(report: dict, field: str, share: bool = True) -> go.Figure:
    """Distribution of `field` ('age_bucket', 'gender', 'race' or 'age') before and after
    rebalancing and in each split, from data_prep's report; shares by default, so splits of
    different sizes compare."""
    figure = go.Figure()
    for stage, name in DISTRIBUTION_STAGES.items():
        counts = report["distributions"][stage][field]
        if field == "age":
            counts = dict(sorted(counts.items(), key=lambda item: int(item[0])))
        total = max(1, sum(counts.values()))
        values = [v / total if share else v for v in counts.values()]
        figure.add_trace(
            go.Bar(
                x=list(counts),
                y=values,
                name=f"{name} ({report['distributions'][stage]['count']:,})",
                customdata=list(counts.values()),
                hovertemplate="%{x}: %{customdata:,} images<extra>" + name + "</extra>",
            )
        )
    figure.update_layout(
        barmode="group",
        template=TEMPLATE,
        height=380,
        title=f"{field.replace('_', ' ').capitalize()} distribution",
        yaxis={"tickformat": ".0%" if share else ",", "title": "share" if share else "images"},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure
