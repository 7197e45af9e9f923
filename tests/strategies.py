"""Hypothesis strategies that more than one test file draws from."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from fxticker import vocab

# Quotes as the parser lets them through: up to 12 digits, any scale, never zero.
RATES = st.builds(
    lambda digits, scale: Decimal(digits).scaleb(-scale),
    st.integers(min_value=1, max_value=10**12 - 1),
    st.integers(min_value=0, max_value=12),
).filter(lambda rate: len(vocab.decimal_text(rate).replace(".", "").lstrip("0")) <= 12)
