"""xmsem's Hydra launcher plugins (found by Hydra under the ``hydra_plugins`` namespace).

``xmsem_local_gpus``: every job of a sweep in a fresh process pinned to one GPU slot
(``conf/launcher/local_gpus.yaml`` selects it as ``launcher=local_gpus``).
"""
