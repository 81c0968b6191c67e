"""The parts of bench/installation.py, one job a module: crossfades, windows under Xvfb, the show."""
