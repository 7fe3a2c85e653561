"""customer-segmentation"""

__version__ = "0.1"
