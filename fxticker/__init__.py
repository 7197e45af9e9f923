"""fxticker: Central Asian currency rates from the Times of Central Asia ticker, as a time series."""

from __future__ import annotations

__version__ = "0.1.0"
