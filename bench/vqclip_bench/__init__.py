"""The parts of bench/vqclip.py, one job a module: speed, the prompt readers, follow, the guides."""
