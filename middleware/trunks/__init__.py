"""Carrier trunks as data: what a trunk is (spec.py), how Asterisk is told about it (render.py)."""
