"""Command-line front ends: checks of the raw command line before Hydra composes, and
``python -m xmsem.validate`` (every experiment composed and validated without training)."""
