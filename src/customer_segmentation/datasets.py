"""Project dataset classes (the versioning layer's are in
``customer_segmentation.versioning``)."""

from __future__ import annotations

import io

from kedro.io.core import get_filepath_str
from kedro_datasets.matplotlib import MatplotlibDataset
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


class FigureDataset(MatplotlibDataset):
    """A Matplotlib figure saved as one PNG file, loaded back as the PNG's
    bytes: each figure is drawn once, by one node, and the HTML report embeds
    the very file the catalog saved. (Kedro's ``MatplotlibDataset`` cannot be
    loaded.) ``MatplotlibDataset``'s options apply, versioning included;
    ``save_args`` are those of a PNG: ``dpi``, ``metadata`` and ``pil_kwargs``.

    The figure is drawn once, on an Agg canvas. ``Figure.savefig`` draws a
    figure with a layout engine twice (a dry run, then the real one) and
    places its axes on each: one draw makes the same file in half the time.

    Example::

        "{name}_plot":
          type: customer_segmentation.datasets.FigureDataset
          filepath: data/08_reporting/{name}_plot.png
          versioned: true
          save_args: {dpi: 100}
    """

    def _save_to_fs(self, full_key_path: str, plot: Figure) -> None:
        options = dict(self._save_args)
        plot.set_dpi(options.pop("dpi", plot.dpi))
        png = io.BytesIO()
        FigureCanvasAgg(plot).print_png(png, **options)
        with self._fs.open(full_key_path, **self._fs_open_args_save) as fs_file:
            fs_file.write(png.getvalue())

    def load(self) -> bytes:  # type: ignore[override]
        path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(path, mode="rb") as png:
            return png.read()
