"""Baseline denoisers behind one interface (to come: classical, learned, blind-spot)."""
