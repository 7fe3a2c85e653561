"""The model selection pictures: titles inside the figure, plain tick numbers."""

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg

from customer_segmentation.pipelines.model_selection.plots import plot_criteria


def _inside(figure, artists) -> None:
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    for artist in artists:
        extent = artist.get_window_extent(renderer)
        assert figure.bbox.x0 - 1 <= extent.x0 and extent.x1 <= figure.bbox.x1 + 1
        assert figure.bbox.y0 - 1 <= extent.y0 and extent.y1 <= figure.bbox.y1 + 1


def test_criteria_ticks_are_plain_numbers_without_an_offset():
    scores = pd.DataFrame(
        {
            "k": [2, 3, 4],
            "inertia": [3600.0, 2500.0, 1600.0],
            "silhouette": [0.35, 0.40, 0.48],
            "calinski_harabasz": [1_204_000.0, 1_206_000.0, 1_205_000.0],
            "davies_bouldin": [1.29, 0.95, 0.80],
            "stability_mean": [0.93, 0.75, 1.0],
            "stability_std": [0.1, 0.2, 0.0],
            "gmm_bic": [-10_000.0, -11_000.0, -21_500.0],
        }
    )
    figure = plot_criteria(scores, {"silhouette": 4}, 4, 0.8)
    FigureCanvasAgg(figure).draw()
    calinski = figure.axes[2]
    labels = [t.get_text() for t in calinski.get_yticklabels() if t.get_text()]
    assert calinski.yaxis.get_offset_text().get_text() == ""  # no "1e6" or "+1.2e6" to decode
    assert "1,205,000" in labels
    silhouette = [t.get_text() for t in figure.axes[1].get_yticklabels() if t.get_text()]
    assert len(set(silhouette)) == len(silhouette)
    _inside(figure, [figure._suptitle, *(axes.title for axes in figure.axes)])
