"""A tiny Hydra app on the project's conf (no training, no torch) for fast launcher tests.

Each job writes ``job.json`` (its CUDA_VISIBLE_DEVICES, seed, pid) into its output dir, sleeps
``XMSEM_TEST_SLEEP`` seconds, writes status.json; it fails (status.json ``failed``, exit 1)
when its seed is in ``XMSEM_TEST_FAIL_SEEDS`` and dies with no record (exit 3) when it is in
``XMSEM_TEST_CRASH_SEEDS``. As xmsem.train does, a job whose folder holds a completed run is
skipped without writing, and a seed in ``XMSEM_TEST_REFUSE_SEEDS`` is refused (folder untouched,
``xmsem.runs.sweep_summary.job_refused``).
"""

import json
import os
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

import xmsem.config  # noqa: F401  (registers the xmsem_dirname resolver)

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def main(cfg: DictConfig) -> object:
    """Record what the job saw; fail on request."""
    out = Path(HydraConfig.get().runtime.output_dir)
    multirun = str(HydraConfig.get().mode) == "RunMode.MULTIRUN"
    if str(cfg.seed) in _seeds("XMSEM_TEST_REFUSE_SEEDS"):
        from xmsem.runs.sweep_summary import job_refused

        refused = job_refused(out, f"{out} holds a run of another config (test)", multirun)
        if multirun:
            return refused
        raise SystemExit(2)
    if (out / "status.json").is_file() and "completed" in (out / "status.json").read_text():
        print(f"already completed: {out}", flush=True)
        return None
    print(f"job sees CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')}", flush=True)
    info = {
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "seed": cfg.seed,
        "pid": os.getpid(),
        "mode": str(HydraConfig.get().mode),
        "start": time.time(),
    }
    time.sleep(float(os.environ.get("XMSEM_TEST_SLEEP", "0")))
    info["end"] = time.time()
    (out / "job.json").write_text(json.dumps(info))
    # the run record, as xmsem.runs.record writes it for an attempt that trains (Hydra does not:
    # hydra.output_subdir is null in conf/hydra/default.yaml)
    (out / ".hydra").mkdir(exist_ok=True)
    OmegaConf.save(OmegaConf.create(list(HydraConfig.get().overrides.task)),
                   out / ".hydra" / "overrides.yaml")  # fmt: skip
    if str(cfg.seed) in _seeds("XMSEM_TEST_CRASH_SEEDS"):  # dies without a record
        os._exit(3)
    failed = str(cfg.seed) in _seeds("XMSEM_TEST_FAIL_SEEDS")  # records its failure, as xmsem does
    (out / "status.json").write_text(json.dumps({"state": "failed" if failed else "completed"}))
    if failed:
        raise RuntimeError(f"seed {cfg.seed} fails on purpose")


def _seeds(var: str) -> set[str]:
    return {s for s in os.environ.get(var, "").split(",") if s}


if __name__ == "__main__":
    main()
