"""Rates: computing them Frankfurter's way, the registry of rate providers, and its providers."""
