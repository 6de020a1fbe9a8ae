"""A single-node SLURM cluster on this machine for the launcher=slurm tests.

Uses a running cluster when ``sinfo`` answers; otherwise, as root with Debian's ``slurm-wlm`` and
``munge`` installed (``.ci/run`` installs them), writes a ~20-line slurm.conf and starts munged,
slurmctld and slurmd. :func:`ensure_cluster` returns None when a cluster is up, else why not.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

PARTITION = "debug"
SLURM_CONF = Path("/etc/slurm/slurm.conf")


def _run(*cmd: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _partition_up() -> bool:
    try:
        out = _run("sinfo", "-h", "-p", PARTITION, "-o", "%a %t")
    except (OSError, subprocess.SubprocessError):
        return False
    fields = out.stdout.split()
    return out.returncode == 0 and len(fields) >= 2 and fields[0] == "up" and \
        fields[1] in ("idle", "mix", "alloc", "comp")  # fmt: skip


def _slurm_conf() -> str:
    host = socket.gethostname()
    cpus = os.cpu_count() or 1
    mem_mb = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 - 512
    return f"""# written by tests/reliability/slurm_cluster.py: a single-node test cluster
ClusterName=xmsem
SlurmctldHost={host}
AuthType=auth/munge
SlurmUser=root
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName={host} CPUs={cpus} RealMemory={max(mem_mb, 1024)} State=UNKNOWN
PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def ensure_cluster(wait_s: float = 60) -> str | None:
    """None when partition ``debug`` is up (starting the daemons if needed), else the reason."""
    if _partition_up():
        return None
    missing = [
        b for b in ("slurmctld", "slurmd", "munged", "sbatch", "sinfo") if not shutil.which(b)
    ]
    if missing:
        return (
            f"SLURM not installed (missing {', '.join(missing)}; apt-get install slurm-wlm munge)"
        )
    if os.geteuid() != 0:
        return "SLURM daemons are not running and starting them needs root"
    try:
        if (
            not SLURM_CONF.is_file()
            or "tests/reliability/slurm_cluster.py" in SLURM_CONF.read_text()
        ):
            SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
            SLURM_CONF.write_text(_slurm_conf())
        for folder in ("/var/spool/slurmd", "/var/spool/slurmctld", "/run/munge"):
            Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        if _run("pgrep", "-x", "munged").returncode != 0:
            _run("runuser", "-u", "munge", "--", "munged")
        if _run("pgrep", "-x", "slurmctld").returncode != 0:
            _run("slurmctld")
        if _run("pgrep", "-x", "slurmd").returncode != 0:
            _run("slurmd")
    except (OSError, subprocess.SubprocessError) as err:
        return f"could not start SLURM: {err}"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if _partition_up():
            return None
        host = socket.gethostname()
        _run("scontrol", "update", f"nodename={host}", "state=resume")
        time.sleep(2)
    return f"SLURM daemons started but partition {PARTITION} is not up after {wait_s:.0f} s"
