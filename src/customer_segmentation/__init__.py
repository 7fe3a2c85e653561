"""customer-segmentation"""

import warnings

__version__ = "0.1"

# PySpark 4 warns, when it is imported (pandera imports it whenever it is
# installed) and at every pandas conversion, that it does not fully support
# pandas 3. The conversions this project makes (Arrow batches of numbers, text
# and timestamps, both ways) are checked against the pandas path by
# tests/test_spark.py; what breaks under pandas 3 is listed in the README
# ("Running on Spark"), and the project uses none of it.
warnings.filterwarnings("ignore", message=r"PySpark does not yet fully support pandas")
