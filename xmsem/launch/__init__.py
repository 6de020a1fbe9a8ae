"""Launching jobs: GPU-slot scheduling of the ``local_gpus`` launcher (``gpus``)."""
