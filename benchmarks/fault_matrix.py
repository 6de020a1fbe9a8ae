"""Issue 17's fault matrix: 12 scripted faults against the command line, PASS/FAIL each.

    python benchmarks/fault_matrix.py [--work DIR] [--keep] [--only 2,5]

Runs the real commands (``python -m xmsem.train`` / ``analyze`` / ``compare``) of the checkout
this file is in (PYTHONPATH is set to it, so a clean clone tests itself) on synthetic data with
``debug=tiny`` and 16-wide layers, in a scratch folder. Each case checks what a user would check:
exit codes, that an error is ONE line (and no traceback), that a refused or skipped rerun changes
no byte of the folder (sha256 of every file before and after), that a planted pickle payload did
not run, what status.json records. Exit status 1 when any case fails. About 10 minutes on a busy
2-core machine (``tests/reliability/test_fault_matrix.py`` runs it, marked slow).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "debug=tiny",
    "model.pgnn.hidden=[16,16]",
    "model.pgnn.corr_rank=4",
    "model.mlp.hidden=[16,16]",
    "callbacks.representations.subspace_k=4",
]
# snapshots that write reps/probe.pt and metrics/alignment.csv, cheaply
SNAPSHOTS = [
    "callbacks=default",
    "callbacks.representations.metrics=[linear_cka]",
    "callbacks.representations.drift=false",
    "callbacks.representations.heatmaps=false",
]
FAST = ["callbacks=none"]


class CaseFailed(AssertionError):
    """A check of a case did not hold (the message says which)."""


def check(condition: bool, what: str) -> None:
    if not condition:
        raise CaseFailed(what)


# --------------------------------------------------------------------------- commands
def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else ""),
        "WANDB_MODE": "disabled",
        "OMP_NUM_THREADS": "1",
        "HYDRA_FULL_ERROR": "0",
        "PYTHONUNBUFFERED": "1",  # each line as it is written (case 12 acts on a warning line)
    }


def xmsem(
    module: str, args: list[str], cwd: Path, timeout: float = 900
) -> subprocess.CompletedProcess:
    """``python -m xmsem.<module> <args>``, output captured."""
    cmd = [sys.executable, "-m", f"xmsem.{module}", *args]
    return subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)


def train(args: list[str], cwd: Path, tiny: bool = True, **kw) -> subprocess.CompletedProcess:
    flags = [a for a in args if a.startswith("-")]  # Hydra's flags before the overrides
    rest = [a for a in args if not a.startswith("-")]
    return xmsem("train", [*flags, *(TINY if tiny else []), *rest], cwd, **kw)


def start_train(args: list[str], cwd: Path) -> subprocess.Popen:
    flags = [a for a in args if a.startswith("-")]
    rest = [a for a in args if not a.startswith("-")]
    cmd = [sys.executable, "-m", "xmsem.train", *flags, *TINY, *rest]
    return subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip


def digest(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def one_line(proc: subprocess.CompletedProcess, what: str) -> str:
    """The single non-empty stderr line of a failed command (CaseFailed otherwise)."""
    lines = [s for s in proc.stderr.splitlines() if s.strip()]
    check(proc.returncode not in (0, None), f"{what}: exit 0, expected a refusal")
    check("Traceback" not in proc.stderr, f"{what}: traceback:\n{proc.stderr[-1500:]}")
    check(len(lines) == 1, f"{what}: {len(lines)} stderr lines, expected 1:\n{proc.stderr[-1500:]}")
    return lines[0]


def status(run: Path) -> dict:
    return json.loads((run / "status.json").read_text())


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    (dst / ".lock").unlink(missing_ok=True)
    return dst


class Payload:
    """Pickles as ``os.mkdir(marker)``: loading it with weights_only=False makes the folder."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def wait_for(proc: subprocess.Popen, ready: Callable[[], bool], what: str, limit: float = 600):
    deadline = time.monotonic() + limit
    while not ready():
        check(proc.poll() is None, f"{what}: the process ended first ({proc.returncode})")
        check(time.monotonic() < deadline, f"{what}: not seen within {limit:.0f} s")
        time.sleep(0.1)


# --------------------------------------------------------------------------- the cases
class Matrix:
    """The scratch folder and the runs the cases share."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.cwd = work / "cwd"  # every command runs here: nothing may appear in it
        self.cwd.mkdir(parents=True, exist_ok=True)
        self._base: Path | None = None
        self._sweep: Path | None = None

    def base(self) -> Path:
        """A completed 2-epoch run with snapshots, in a folder with a space and non-ASCII."""
        if self._base is None:
            run = self.work / "sp ace" / "ünï" / "run"
            proc = train([f'hydra.run.dir="{run}"', *SNAPSHOTS], self.cwd)
            check(proc.returncode == 0, f"base run failed:\n{proc.stderr[-2000:]}")
            self._base = run
        return self._base

    def fresh_copy(self, name: str) -> Path:
        return copy_run(self.base(), self.work / name / "run")

    # 1 (item 7) -------------------------------------------------------------------------
    def case_quoted_path(self) -> str:
        run = self.base()
        check(status(run)["state"] == "completed", "the quoted-path run is not completed")
        stray = [p.name for p in self.cwd.iterdir()]
        check(not stray, f"the command created {stray} in the current folder")
        return f"trained in {run}; nothing created in the current folder"

    # 2 (item 1) -------------------------------------------------------------------------
    def case_refused_rerun(self) -> str:
        g1 = self.fresh_copy("g1")
        before = digest(g1)
        proc = train([f"hydra.run.dir={g1}", *SNAPSHOTS, "model.pgnn.gamma=0.5"], self.cwd)
        line = one_line(proc, "gamma=0.5 on a completed run")
        check(proc.returncode == 2 and "another config" in line, f"not a refusal: {line}")
        check("model.pgnn.gamma" in line, f"the refusal does not name the key: {line}")
        check(digest(g1) == before, "the refused rerun changed the folder")
        skipped = train([f"hydra.run.dir={g1}", *SNAPSHOTS], self.cwd)
        check(skipped.returncode == 0, f"same-config rerun failed: {skipped.stderr[-1500:]}")
        check("already completed" in skipped.stdout + skipped.stderr, "no 'already completed'")
        check(digest(g1) == before, "the skipped rerun changed the folder")
        return f"exit 2, one line; {len(before)} files byte-identical after refusal and skip"

    # 3 (item 2) -------------------------------------------------------------------------
    def case_fewer_epochs_refused(self) -> str:
        g = self.fresh_copy("g_fewer")
        before = digest(g)
        proc = train([f"hydra.run.dir={g}", *SNAPSHOTS, "trainer.max_epochs=1"], self.cwd)
        line = one_line(proc, "max_epochs=1 on a 2-epoch run")
        check("asks for fewer" in line, f"unexpected line: {line}")
        check(digest(g) == before, "the refused rerun changed the folder")
        return "exit 2, one line, folder unchanged"

    # 4 (item 2) -------------------------------------------------------------------------
    def case_more_epochs_continue(self) -> str:
        from omegaconf import OmegaConf

        g = self.fresh_copy("g_more")
        proc = train([f"hydra.run.dir={g}", *SNAPSHOTS, "trainer.max_epochs=3"], self.cwd)
        check(proc.returncode == 0, f"continuing failed:\n{proc.stderr[-2000:]}")
        st = status(g)
        check(st["state"] == "completed", f"state {st['state']}")
        check(st.get("epochs_trained") == 3, f"epochs_trained {st.get('epochs_trained')}, not 3")
        check(st.get("attempts") == 2 and str(st.get("resumed_from", "")).endswith(".ckpt"),
              "not continued from its checkpoint")  # fmt: skip
        recorded = OmegaConf.load(g / ".hydra" / "config.yaml").trainer.max_epochs
        check(recorded == 3, f".hydra/config.yaml records {recorded} epochs")
        return "continued from last.ckpt to 3 epochs; the record says 3"

    # 5 (item 1) -------------------------------------------------------------------------
    def sweep(self) -> tuple[Path, list[str]]:
        """A 2-job sweep over data.seed with an experiment file of the user's (ensemble: 1)."""
        if self._sweep is None:
            conf = self.work / "userconf" / "experiment"
            conf.mkdir(parents=True, exist_ok=True)
            (conf / "fm.yaml").write_text("# @package _global_\nensemble: 1\n")
            args = self.sweep_args()
            proc = train(args, self.cwd)
            check(
                proc.returncode == 0,
                f"the sweep failed:\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}",
            )
            check("2 completed" in proc.stdout, f"no '2 completed' in:\n{proc.stdout[-1500:]}")
            self._sweep = self.work / "out" / "sweeps" / "fm"
        jobs = sorted(p.name for p in self._sweep.iterdir() if (p / "status.json").is_file())
        return self._sweep, jobs

    def sweep_args(self) -> list[str]:
        return ["-m", "+experiment=fm", f"hydra.searchpath=[file://{self.work / 'userconf'}]",
                "data.seed=0,1", "name=fm", f"paths.output_dir={self.work / 'out'}", *FAST]  # fmt: skip

    def case_sweep_refused(self) -> str:
        sweep, jobs = self.sweep()
        check(len(jobs) == 2, f"jobs {jobs}")
        before = {j: digest(sweep / j) for j in jobs}
        (self.work / "userconf" / "experiment" / "fm.yaml").write_text(
            "# @package _global_\nensemble: 2\n"
        )
        try:
            proc = train(self.sweep_args(), self.cwd)
        finally:
            (self.work / "userconf" / "experiment" / "fm.yaml").write_text(
                "# @package _global_\nensemble: 1\n"
            )
        check(proc.returncode != 0, "the sweep of refused jobs exited 0")
        check("2 refused" in proc.stdout, f"no '2 refused' in:\n{proc.stdout[-1500:]}")
        check("completed" not in proc.stdout.split("xmsem sweep")[-1].splitlines()[0],
              "the refused jobs are counted as completed")  # fmt: skip
        check({j: digest(sweep / j) for j in jobs} == before, "a refused job changed its folder")
        return f"exit {proc.returncode}, '2 refused' printed, both folders unchanged"

    # 6 (item 6) -------------------------------------------------------------------------
    def case_compare_sides(self) -> str:
        sweep, jobs = self.sweep()
        a, b = (sweep / j for j in jobs)
        out = self.work / "cmp"
        refused = xmsem("compare", [str(a), str(b), "--out", str(out)], self.cwd)
        line = one_line(refused, "compare of different data")
        check("different data" in line, f"unexpected line: {line}")
        proc = xmsem("compare", [str(a), str(b), "--out", str(out), "--allow-different-data"],
                     self.cwd)  # fmt: skip
        check(proc.returncode == 0, f"compare failed:\n{proc.stderr[-2000:]}")
        for side in ("A: completed, 2 of 2 epochs", "B: completed, 2 of 2 epochs"):
            check(side in proc.stdout, f"'{side}' not printed")
        check("warning: A and B were trained on different data" in proc.stderr, "no data warning")
        again = xmsem("compare", [str(a), str(b), "--out", str(out / "report.md"),
                                  "--allow-different-data"], self.cwd)  # fmt: skip
        one_line(again, "compare --out an existing file")
        return "different data refused in one line; sides named; --out a file: one line"

    # 7 (item 3) -------------------------------------------------------------------------
    def case_sigterm(self) -> str:
        run = self.work / "term" / "run"
        args = [f"hydra.run.dir={run}", *FAST, "trainer.max_epochs=6"]
        proc = start_train(args, self.cwd)
        wait_for(proc, lambda: (run / "checkpoints" / "last.ckpt").is_file(), "a checkpoint")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        seconds = time.monotonic() - t0
        out = proc.stdout.read()
        check(proc.returncode == 143, f"exit {proc.returncode}, not 143:\n{out[-1500:]}")
        check(status(run)["state"] == "interrupted", f"state {status(run)['state']}")
        resumed = train(args, self.cwd)
        check(resumed.returncode == 0, f"the rerun failed:\n{resumed.stderr[-1500:]}")
        st = status(run)
        check(st["state"] == "completed" and st["epochs_trained"] == 6, f"rerun: {st['state']}")
        check(str(st.get("resumed_from", "")).endswith(".ckpt"), "the rerun did not resume")
        return f"exit 143 after {seconds:.1f} s, 'interrupted' recorded, rerun resumed to 6 epochs"

    # 8 (item 3) -------------------------------------------------------------------------
    def case_sigint_sweep(self) -> str:
        out = self.work / "intsweep"
        proc = start_train(["-m", "seed=0,1", "name=sw", f"paths.output_dir={out}", *FAST,
                            "trainer.max_epochs=60"], self.cwd)  # fmt: skip
        wait_for(proc, lambda: bool(list(out.rglob("last.ckpt"))), "a checkpoint")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        text = proc.stdout.read()
        check(proc.returncode == 130, f"exit {proc.returncode}, not 130:\n{text[-1500:]}")
        check("xmsem sweep" in text and "1 interrupted" in text, f"no summary:\n{text[-1500:]}")
        states = [json.loads(p.read_text())["state"] for p in out.rglob("status.json")]
        check(states == ["interrupted"], f"job states {states}")
        return "exit 130, summary '1 interrupted', the next job never started"

    # 9 (item 4) -------------------------------------------------------------------------
    def case_payload_probe(self) -> str:
        import torch

        g = self.fresh_copy("g_probe")
        probe = g / "reps" / "probe.pt"
        marker = self.work / "probe_payload_ran"
        data = torch.load(probe, map_location="cpu", weights_only=True)
        torch.save({**data, "meta": Payload(marker)}, probe)
        proc = xmsem("analyze", [str(g.parent), "-q", "--out", str(self.work / "an_probe")],
                     self.cwd)  # fmt: skip
        check(not marker.exists(), "the planted payload RAN")
        line = one_line(proc, "analyze with a planted probe.pt")
        check("probe.pt" in line, f"the line does not name the file: {line}")
        return f"refused in one line, payload not run: {line[:90]}"

    # 10 (item 4) ------------------------------------------------------------------------
    def case_payload_checkpoint(self) -> str:
        import torch

        g = self.fresh_copy("g_ckpt")
        ckpt = g / "checkpoints" / "last.ckpt"
        marker = self.work / "ckpt_payload_ran"
        good = torch.load(ckpt, map_location="cpu", weights_only=True)
        torch.save({**good, "evil": Payload(marker)}, ckpt)
        proc = xmsem("compare", [str(g), str(g), "--out", str(self.work / "cmp_ckpt")], self.cwd)
        check(not marker.exists(), "the planted payload RAN")
        line = one_line(proc, "compare with a planted checkpoint")
        check("last.ckpt" in line, f"the line does not name the file: {line}")
        return "compare refused it in one line, payload not run"

    # 11 (item 5) ------------------------------------------------------------------------
    def case_torn_and_duplicate_rows(self) -> str:
        g = self.fresh_copy("g_csv")
        csv = g / "metrics" / "alignment.csv"
        text = csv.read_text()
        lines = text.splitlines()
        csv.write_text(text + "2,pgnn,mlp,h2,h2,linear_cka,0.0")  # torn: no newline
        torn = xmsem("analyze", [str(g.parent), "-q", "--out", str(self.work / "an_csv")], self.cwd)
        line = one_line(torn, "analyze with a torn row")
        check(f"{csv}:{len(lines) + 1}" in line and "terminated" in line, f"unexpected: {line}")
        csv.write_text(text + lines[-1] + "\n")  # an exact duplicate of the last row
        dup = xmsem("analyze", [str(g.parent), "-q", "--out", str(self.work / "an_csv")], self.cwd)
        line2 = one_line(dup, "analyze with a duplicated row")
        check(f"{csv}:{len(lines) + 1}: repeats the key" in line2, f"unexpected: {line2}")
        return "torn row and duplicate row: one line each naming file and line"

    # 12 (items 8, 9) --------------------------------------------------------------------
    def case_one_line_errors_and_cost(self) -> str:
        bad = {
            "optim.lr=nan": "optim.lr",
            "optim.lr=abc": "optim.lr",
            "data.val_size=100000": "val_size",
            "name=" + "n" * 300: "name",
        }
        for override, key in bad.items():
            run = self.work / "bad" / key
            proc = train([f"hydra.run.dir={run}", *FAST, override], self.cwd)
            line = one_line(proc, override[:40])
            check(key in line, f"{override[:40]}: the line does not name {key}: {line}")
            check("did you mean 'lr'" not in line, f"{override[:40]}: suggests the same key")
            check(not run.exists() or not list(run.rglob("status.json")) or
                  status(run)["state"] == "failed", f"{override[:40]}: left a run behind")  # fmt: skip
        # the K^2 cost warning (ensemble=400: ~0.33 M rows per snapshot) comes before the
        # snapshot, and SIGTERM stops that snapshot (~2 minutes long here) within seconds
        run = self.work / "cost" / "run"
        output = self.work / "cost.out"
        with output.open("w") as sink:  # a file, not a pipe: nothing waits on our reading
            proc = subprocess.Popen(
                [sys.executable, "-m", "xmsem.train", *TINY, f"hydra.run.dir={run}", *SNAPSHOTS,
                 "ensemble=400", "callbacks.representations.epochs=[0]"],
                cwd=self.cwd, env=_env(), stdout=sink, stderr=subprocess.STDOUT,
            )  # fmt: skip

        def log() -> str:
            return (run / "train.log").read_text() if (run / "train.log").exists() else ""

        # the plan is warned before the first snapshot; the signal goes once that snapshot is
        # under way (its progress line), and must stop it within seconds
        wait_for(proc, lambda: "snapshot epoch 0:" in log(), "ensemble=400 snapshot start")
        check("snapshot plan" in log(), "ensemble=400: no cost warning before the snapshot")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=300)
        seconds = time.monotonic() - t0
        check(proc.returncode == 143, f"ensemble=400: exit {proc.returncode}, not 143")
        check(status(run)["state"] == "interrupted", f"ensemble=400: {status(run)['state']}")
        check(seconds < 30, f"the snapshot took {seconds:.0f} s to stop")
        return f"4 bad values: one line each; cost warned, SIGTERM stopped the snapshot in {seconds:.1f} s"


CASES = [
    ("1 quoted path with a space and non-ASCII trains, creates nothing", "case_quoted_path"),
    ("2 refused / skipped rerun leaves every byte", "case_refused_rerun"),
    ("3 fewer epochs on a completed run: refused, one line", "case_fewer_epochs_refused"),
    ("4 more epochs continue the run, the record follows", "case_more_epochs_continue"),
    ("5 changed config file: sweep counts refused jobs, exits non-zero", "case_sweep_refused"),
    ("6 compare names state/data of both sides, refuses other data", "case_compare_sides"),
    ("7 SIGTERM: 143, interrupted recorded, rerun resumes", "case_sigterm"),
    ("8 SIGINT in a sweep: summary, 130", "case_sigint_sweep"),
    ("9 planted pickle in reps/probe.pt is refused", "case_payload_probe"),
    ("10 planted pickle in a checkpoint is refused by compare", "case_payload_checkpoint"),
    ("11 torn / duplicated CSV row: one line naming file:line", "case_torn_and_duplicate_rows"),
    (
        "12 bad values one line; K^2 cost warned; snapshot stops on SIGTERM",
        "case_one_line_errors_and_cost",
    ),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--only", help="comma-separated case numbers, e.g. 2,5")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="xmsem-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    wanted = {int(x) for x in args.only.split(",")} if args.only else None
    matrix = Matrix(work)
    failures = 0
    start = time.monotonic()
    for number, (title, method) in enumerate(CASES, 1):
        if wanted and number not in wanted:
            continue
        t0 = time.monotonic()
        try:
            detail = getattr(matrix, method)()
            verdict = "PASS"
        except Exception as err:  # noqa: BLE001 - any break of a case is its FAIL
            text = str(err) if isinstance(err, CaseFailed) else f"{type(err).__name__}: {err}"
            detail, verdict = text.replace("\n", "\n      "), "FAIL"
            failures += 1
        print(f"{verdict} {title} [{time.monotonic() - t0:.0f}s]\n      {detail}", flush=True)
    print(f"fault matrix: {failures} failed, {time.monotonic() - start:.0f} s; work {work}")
    if not args.keep and not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
