"""The product against the plain baseline on real customer files.

Usage (from the project folder, with .venv active):

    python benchmarks/real_files.py
    python benchmarks/real_files.py --file path/to/customers.csv --label Channel

For each file, in a temporary copy of the project, as a new user would:
``kedro configure-data FILE --env NAME`` writes an environment (the CRM export
uses the shipped ``crm_example`` environment instead), then ``kedro run --env
NAME --pipelines segmentation`` segments it at the default settings. The
plain baseline is the five-line script: the same feature columns, one-hot
encoded, median-imputed, ``StandardScaler``, ``KMeans(n_init=10)`` for k = 2
to 10, the best silhouette. Printed per file: k, the deployed algorithm, silhouette (each on its own
encoding, exact), the smallest segment's share, the structure verdict, the
number of different actions, the adjusted Rand index against a known label
column when one is given, and the spread of an outcome's mean between the
segments (highest over lowest) when one is known. Nothing here asserts anything: it prints.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from project_copy import copy_project, newest_version, run_kedro
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = PROJECT_ROOT / "data" / "01_raw" / "examples"
# Shipped files and what is known about them: the label column whose groups
# segmentation should recover (None: no known groups), an outcome column the
# segments should differ on (profiled, never clustered on), the environment.
SHIPPED = [
    (EXAMPLES / "wholesale_customers.csv", "Channel", None, None),
    (EXAMPLES / "marketing_campaign.csv", None, "Response", "crm_example"),
]


def product(project: Path, source: Path, env: str | None) -> tuple[dict, dict, pd.Series]:
    """Segments the file through the project; returns its parameters, the
    figures and the segment of every row."""
    if env is None:
        env = "file_" + "".join(c if c.isalnum() else "_" for c in source.stem)
        run_kedro(project, "configure-data", str(source), "--env", env)
    run_kedro(project, "run", "--env", env, "--pipelines", "segmentation")
    parameters = {}
    for path in (project / "conf" / "base").glob("parameters*.yml"):
        parameters.update(yaml.safe_load(path.read_text()))
    for key, value in yaml.safe_load(
        (project / "conf" / env / "parameters.yml").read_text()
    ).items():
        parameters[key] = {**parameters.get(key, {}), **value} if isinstance(value, dict) else value
    data = (
        project / yaml.safe_load((project / "conf" / env / "globals.yml").read_text())["data_dir"]
    )
    metrics = json.loads(
        newest_version(data / "08_reporting" / "model_selection_metrics.json").read_text()
    )
    segments = pd.read_parquet(
        newest_version(data / "07_model_output" / "customer_segments.parquet")
    )
    encoded = pd.read_parquet(newest_version(data / "04_feature" / "encoded_features.parquet"))
    actions = pd.read_csv(newest_version(data / "08_reporting" / "segment_recommendations.csv"))
    labels = segments["segment"].to_numpy()
    figures = {
        "k": metrics["selected_k"],
        "algorithm": metrics["algorithm"]["chosen"],
        "silhouette": silhouette_score(encoded.iloc[:, 1:], labels),
        "smallest": np.bincount(labels).min() / len(labels),
        "clear": metrics["clear_structure"],
        "actions": actions["action"].nunique(),
    }
    return parameters["features"], figures, pd.Series(labels)


def baseline(table: pd.DataFrame, features: dict) -> tuple[dict, pd.Series]:
    """StandardScaler + KMeans, best silhouette, on the product's feature columns."""
    columns = [*features["numeric"], *(features.get("categorical") or [])]
    encoded = pd.get_dummies(table[columns], columns=features.get("categorical") or [], dtype=float)
    encoded = encoded.apply(pd.to_numeric, errors="coerce")
    encoded = encoded.fillna(encoded.median())
    scaled = StandardScaler().fit_transform(encoded)
    best = None
    for k in range(2, 11):
        labels = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(scaled)
        score = silhouette_score(scaled, labels)
        if best is None or score > best[1]:
            best = (k, score, labels)
    k, score, labels = best
    figures = {
        "k": k,
        "algorithm": "kmeans",
        "silhouette": score,
        "smallest": np.bincount(labels).min() / len(labels),
    }
    return figures, pd.Series(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=Path, action="append", default=[], help="another file")
    parser.add_argument("--label", action="append", default=[], help="its known label column")
    options = parser.parse_args()
    files = SHIPPED + [
        (path, (options.label[i] if i < len(options.label) else None) or None, None, None)
        for i, path in enumerate(options.file)
    ]
    print(
        f"{'file':<28} {'who':<9} {'k':>3} {'algorithm':>16} {'silhouette':>10} {'smallest':>9} "
        f"{'structure':>9} {'actions':>7} {'ARI':>6} {'outcome':>8}"
    )
    for source, label, outcome, env in files:
        with tempfile.TemporaryDirectory() as folder:
            project = Path(folder)
            copy_project(project, examples=True)
            copied = project / "data" / "01_raw" / source.name
            if not copied.exists():
                shutil.copy(source, copied)
            features, ours, our_labels = product(project, copied, env)
        separator = ";" if source.read_text(errors="ignore").split("\n")[0].count(";") > 1 else ","
        table = pd.read_csv(source, sep=separator)
        theirs, their_labels = baseline(table, features)
        for who, figures, labels in (
            ("product", ours, our_labels),
            ("baseline", theirs, their_labels),
        ):
            ari = adjusted_rand_score(table[label], labels) if label else None
            means = table[outcome].groupby(labels.to_numpy()).mean() if outcome else None
            spread = "" if means is None else f"{means.max() / means.min():.1f}x"
            print(
                f"{source.name[:28]:<28} {who:<9} {figures['k']:>3} {figures['algorithm']:>16} "
                f"{figures['silhouette']:>10.3f} "
                f"{figures['smallest']:>9.1%} "
                f"{str(figures.get('clear', '')):>9} {str(figures.get('actions', '')):>7} "
                f"{'' if ari is None else f'{ari:.3f}':>6} {spread:>8}"
            )


if __name__ == "__main__":
    main()
