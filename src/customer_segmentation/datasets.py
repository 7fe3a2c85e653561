"""Project dataset classes (the versioning layer's are in
``customer_segmentation.versioning``)."""

from __future__ import annotations

from kedro.io.core import get_filepath_str
from kedro_datasets.matplotlib import MatplotlibDataset


class FigureDataset(MatplotlibDataset):
    """A Matplotlib figure saved as one PNG file, loaded back as the PNG's
    bytes: each figure is drawn once, by one node, and the HTML report embeds
    the very file the catalog saved. (Kedro's ``MatplotlibDataset`` cannot be
    loaded.) All of ``MatplotlibDataset``'s options apply, versioning included.

    Example::

        "{name}_plot":
          type: customer_segmentation.datasets.FigureDataset
          filepath: data/08_reporting/{name}_plot.png
          versioned: true
          save_args: {dpi: 100}
    """

    def load(self) -> bytes:  # type: ignore[override]
        path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(path, mode="rb") as png:
            return png.read()
