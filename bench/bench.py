#!/usr/bin/env python3
"""Runs the locktrace benchmark suite and writes a Markdown report.

run.sh builds what is needed and calls this; see README.md. Python standard
library only. It measures and reports; it never judges a result.

Every process it starts leads its own process group (start_new_session), so a
tracer and the workload it launched are ended together, by that group's id, on
a timeout, an error or Ctrl-C.
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

# name -> (program, extra args after OPS, full OPS, quick OPS, what it locks)
WORKLOADS = {
    "futex_mutex_2t": ("futex_mutex", ["2"], 5_000_000, 500_000, "futex"),
    "futex_mutex_4t": ("futex_mutex", ["4"], 5_000_000, 500_000, "futex"),
    "condvar_pingpong": ("condvar_pingpong", [], 100_000, 10_000, "futex"),
    "flock_pingpong": ("flock_pingpong", [], 100_000, 10_000, "file"),
    "fcntl_pingpong": ("fcntl_pingpong", [], 100_000, 10_000, "file"),
    "ofd_pingpong": ("ofd_pingpong", [], 100_000, 10_000, "file"),
    "mixed": ("mixed", [], 1_000_000, 100_000, "file"),
}
# locktrace_record captures stacks (the default: every wait's, and every file-lock
# request's); locktrace_record_nostacks is the same without, for their cost.
RUNNERS = ["bare", "strace", "locktrace_live", "locktrace_record", "locktrace_record_nostacks",
           "reference"]
TALLY = re.compile(r"^(?:locktrace|reference): (\d+) events, (\d+) lost", re.M)
RESULT = re.compile(r"(\w+)=(\d+)")
STRACE_CALL = re.compile(r"^\d+\s+(?:flock|fcntl|futex)\(", re.M)


class Groups:
    """The process groups this run started, ended by id on the way out."""

    def __init__(self):
        self.live = set()

    def spawn(self, argv, **kwargs):
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.live.add(proc.pid)
        return proc

    def done(self, pid):
        self.live.discard(pid)

    def end(self, pid, grace=3.0):
        """SIGTERM the group (tracers stop cleanly on it), then SIGKILL what remains."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
            while group_alive(pid) and time.monotonic() < deadline:
                reap(pid)  # a zombie leader would keep the group alive
                time.sleep(0.02)
            if not group_alive(pid):
                break
        reap(pid)
        self.done(pid)

    def end_all(self):
        for pid in list(self.live):
            self.end(pid)


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def read_vm_hwm_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def comm_of(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


class Run:
    """One process (group) run to completion with its rusage and peak RSS."""

    def __init__(self, groups, argv, timeout, stdout=subprocess.DEVNULL, env=None):
        self.timed_out = False
        self.stderr = ""
        start = time.monotonic()
        with tempfile.TemporaryFile("w+") as err:
            proc = groups.spawn(argv, stdout=stdout, stderr=err, stdin=subprocess.DEVNULL, env=env)
            hwm = 0
            status, rusage = None, None
            try:
                while True:
                    pid, wstatus, wrusage = os.wait4(proc.pid, os.WNOHANG)
                    if pid == proc.pid:
                        status, rusage = wstatus, wrusage
                        break
                    hwm = max(hwm, read_vm_hwm_kb(proc.pid))
                    if time.monotonic() - start > timeout:
                        self.timed_out = True
                        groups.end(proc.pid)
                        break
                    time.sleep(0.02)  # VmHWM only grows: a late poll misses little
            finally:
                proc.returncode = 0  # reaped here: keep Popen from waiting again
                # The group may outlive its leader (a workload the tracer left behind).
                if group_alive(proc.pid):
                    groups.end(proc.pid)
                groups.done(proc.pid)
            self.outer_s = time.monotonic() - start
            err.seek(0)
            self.stderr = err.read()
        self.rusage = rusage
        self.polled_hwm_kb = hwm
        if status is None or self.timed_out:
            self.returncode = None
        elif os.WIFEXITED(status):
            self.returncode = os.WEXITSTATUS(status)
        else:
            self.returncode = 128 + os.WTERMSIG(status)

    def peak_rss_kb(self, children_kb=0):
        """The leader's peak RSS: polled VmHWM, or wait4's maxrss when that is telling.

        wait4's maxrss is the largest of the process and its reaped children, and a
        child forked from this script starts with this script's peak, so it says
        something only above both.
        """
        floor = max(children_kb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        if self.rusage and self.rusage.ru_maxrss > floor:
            return max(self.rusage.ru_maxrss, self.polled_hwm_kb)
        return self.polled_hwm_kb or None

    def cpu_s(self):
        if not self.rusage:
            return None
        return self.rusage.ru_utime + self.rusage.ru_stime


def parse_result(path):
    """The workload's result line (the last, if several)."""
    try:
        with open(path) as f:
            lines = [l for l in f.read().splitlines() if l.startswith("ops=")]
    except OSError:
        return None
    if not lines:
        return None
    return {k: int(v) for k, v in RESULT.findall(lines[-1])}


class Suite:
    def __init__(self, args):
        self.args = args
        self.groups = Groups()
        self.tmp = tempfile.mkdtemp(prefix="locktrace-bench-", dir=args.tmp_dir)
        self.runs = []          # one dict per measured run
        self.recordings = {}    # workload -> (path, events, bytes) of the last record run
        self.errors = []

    # --- runners -------------------------------------------------------------

    def workload_argv(self, name):
        program, extra, full, quick, _ = WORKLOADS[name]
        ops = quick if self.args.quick else full
        ops = max(2, int(ops * self.args.scale))
        return [os.path.join(self.args.bin_dir, program), str(ops)] + extra

    def runner_argv(self, runner, workload, out):
        lt = self.args.locktrace
        if runner == "bare":
            return workload
        if runner == "strace":
            return ["strace", "-f", "-e", "trace=flock,fcntl,futex", "-o", out, "--"] + workload
        if runner == "locktrace_live":
            return [lt, "live", "--json", "--"] + workload
        if runner == "locktrace_record":
            return [lt, "record", "-o", out, "--"] + workload
        if runner == "locktrace_record_nostacks":
            return [lt, "record", "--no-stacks", "-o", out, "--"] + workload
        if runner == "reference":
            return [os.path.join(self.args.bin_dir, "reference_tracer"), "-o", out, "--"] + workload
        raise ValueError(runner)

    def run_one(self, name, runner, round_no):
        result_file = os.path.join(self.tmp, "result.txt")
        out = os.path.join(self.tmp, f"{name}.{runner}.out")
        for path in (result_file, out):
            if os.path.exists(path):
                os.unlink(path)
        env = dict(os.environ, BENCH_RESULT_FILE=result_file)
        run = Run(self.groups, self.runner_argv(runner, self.workload_argv(name), out),
                  self.args.timeout, env=env)
        res = parse_result(result_file)
        row = {"workload": name, "runner": runner, "round": round_no,
               "returncode": run.returncode, "timed_out": run.timed_out,
               "outer_s": run.outer_s}
        if res:
            row.update(elapsed_s=res["elapsed_ns"] / 1e9, lock_calls=res["lock_calls"],
                       expected_events=res["expected_events"], estimated=bool(res["estimated"]))
        row["ok"] = run.returncode == 0 and res is not None
        if not row["ok"]:
            tail = run.stderr.strip().splitlines()[-3:]
            self.errors.append(f"{name} / {runner} round {round_no}: exit {run.returncode}"
                               f"{' (timed out)' if run.timed_out else ''}"
                               f"{': ' + ' | '.join(tail) if tail else ''}")
        if runner != "bare":
            self.tracer_costs(row, run, res)
            self.events(row, runner, run, out, res)
        if runner == "locktrace_record" and row["ok"] and os.path.exists(out):
            row["bytes"] = os.path.getsize(out)
            keep = os.path.join(self.tmp, f"{name}.lt")
            os.replace(out, keep)
            self.recordings[name] = (keep, row.get("events"), row["bytes"])
        elif os.path.exists(out):
            row["bytes"] = os.path.getsize(out)
            os.unlink(out)
        self.runs.append(row)
        return row

    @staticmethod
    def tracer_costs(row, run, res):
        """The tracer's own CPU and peak RSS: its rusage includes the workload it reaped."""
        total = run.cpu_s()
        if total is not None and res:
            row["tracer_cpu_s"] = max(0.0, total - res["cpu_ns"] / 1e9)
        row["tracer_rss_kb"] = run.peak_rss_kb(res["maxrss_kb"] if res else 0)

    @staticmethod
    def events(row, runner, run, out, res):
        if runner == "strace":
            try:
                with open(out, errors="replace") as f:
                    row["events"] = len(STRACE_CALL.findall(f.read()))
            except OSError:
                pass
            row["lost"] = None
            if res:
                row["expected"] = res["lock_calls"]
            return
        tallies = TALLY.findall(run.stderr)
        if tallies:
            row["events"], row["lost"] = int(tallies[-1][0]), int(tallies[-1][1])
        if res:
            # locktrace: one record per call and per sleep in it, plus lifecycle;
            # the reference: an entry and an exit record per call.
            row["expected"] = (res["expected_events"] if runner.startswith("locktrace")
                               else 2 * res["lock_calls"])

    # --- the parts of the suite ------------------------------------------------

    def matrix(self):
        for name in self.args.workloads:
            for round_no in range(1, self.args.rounds + 1):
                for runner in self.args.runners:
                    row = self.run_one(name, runner, round_no)
                    self.progress(f"{name:18} {runner:17} round {round_no}: "
                                  f"{fmt_ms(row.get('elapsed_s'))} ms"
                                  f" events {row.get('events', '-')}/{row.get('expected', '-')}")

    def replay(self):
        """Replay speed on the largest recording: full JSON, and a filter that prints nothing."""
        if not self.recordings:
            return None
        name, (path, events, size) = max(self.recordings.items(), key=lambda kv: kv[1][2])
        if not events:
            return None
        lt = self.args.locktrace
        out = {"workload": name, "events": events, "bytes": size}
        for label, argv in (("json", [lt, "replay", "--json", path]),
                            ("pid_filter", [lt, "replay", "--pid", "1", path])):
            samples = []
            for _ in range(max(1, min(self.args.rounds, 3))):
                # Run's 20 ms polling would round a replay of 50 ms up to 60-80:
                # the time comes from a run of its own, waited for without polling.
                seconds = self.timed_run(argv)
                run = Run(self.groups, argv, self.args.timeout)
                if run.returncode != 0 or seconds is None:
                    self.errors.append(f"replay {label}: exit {run.returncode}: "
                                       + " | ".join(run.stderr.strip().splitlines()[-3:]))
                    continue
                samples.append((seconds, run.peak_rss_kb() or 0))
            if samples:
                secs = statistics.median(s for s, _ in samples)
                out[label] = {"seconds": secs, "events_per_s": events / secs if secs else None,
                              "peak_rss_kb": max(r for _, r in samples)}
            self.progress(f"replay {label}: {out.get(label)}")
        return out

    def timed_run(self, argv):
        """Wall time of one run to completion (its group ended on a timeout), or None."""
        start = time.monotonic()
        proc = self.groups.spawn(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 stdin=subprocess.DEVNULL)
        try:
            code = proc.wait(timeout=self.args.timeout)
        except subprocess.TimeoutExpired:
            code = None
        seconds = time.monotonic() - start
        self.groups.end(proc.pid)
        return seconds if code == 0 else None

    def neighbour_check(self):
        """mixed, untraced, alone / beside an untraced / beside a traced futex workload."""
        program, extra, *_ = WORKLOADS[self.args.neighbour]
        neighbour = [os.path.join(self.args.bin_dir, program), "1000000000"] + extra
        mixed = self.workload_argv("mixed")
        settings = {
            "alone": None,
            "beside_untraced": neighbour,
            "beside_traced": [self.args.locktrace, "live", "--json", "--"] + neighbour,
        }
        samples = {k: [] for k in settings}
        for _ in range(self.args.rounds):
            for label, neighbour_argv in settings.items():
                proc = None
                try:
                    if neighbour_argv:
                        proc = self.groups.spawn(neighbour_argv, stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.DEVNULL,
                                                 stdin=subprocess.DEVNULL)
                        if not self.wait_running(proc.pid, program):
                            self.errors.append(f"neighbour check: {program} did not start ({label})")
                            continue
                        time.sleep(0.3)
                    result_file = os.path.join(self.tmp, "mixed.txt")
                    if os.path.exists(result_file):
                        os.unlink(result_file)
                    run = Run(self.groups, mixed, self.args.timeout,
                              env=dict(os.environ, BENCH_RESULT_FILE=result_file))
                    res = parse_result(result_file)
                    if res:
                        samples[label].append(res["elapsed_ns"] / 1e9)
                    else:
                        self.errors.append(f"neighbour check {label}: mixed exit {run.returncode}")
                finally:
                    if proc:
                        self.groups.end(proc.pid)
                        proc.returncode = -1  # reaped by end()
            self.progress("neighbour check: " + ", ".join(
                f"{k} {fmt_ms(v[-1] if v else None)} ms" for k, v in samples.items()))
        return {k: v for k, v in samples.items()}

    def wait_running(self, pid, program, limit=15.0):
        """True once `program` runs as the group leader or one of its children."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if comm_of(pid) == program[:15] or any(comm_of(c) == program[:15]
                                                  for c in children_of(pid)):
                return True
            if not group_alive(pid):
                return False
            time.sleep(0.02)
        return False

    def progress(self, text):
        if not self.args.silent:
            print(f"  {text}", file=sys.stderr, flush=True)

    def cleanup(self):
        self.groups.end_all()
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- the report --------------------------------------------------------------------

def fmt_ms(seconds):
    return "-" if seconds is None else f"{seconds * 1e3:.1f}"


def median_of(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def mib(kb):
    return "-" if kb is None else f"{kb / 1024:.1f}"


def events_cell(rows):
    events = median_of(rows, "events")
    expected = median_of(rows, "expected")
    if events is None:
        return "-"
    if not expected:
        return f"{events:.0f} / -"
    est = "~" if any(r.get("estimated") for r in rows) else ""
    return f"{events:.0f} / {est}{expected:.0f} ({events / expected:.2f})"


def report(suite, replay, neighbour, started, finished):
    args = suite.args
    load = os.getloadavg()
    lines = [
        f"# locktrace benchmark ({'quick' if args.quick else 'full'})",
        "",
        f"- date: {started:%Y-%m-%d %H:%M:%S} – {finished:%H:%M:%S}",
        f"- host: {platform.node()}, kernel {platform.release()}, {os.cpu_count()} CPUs, "
        f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        f"- locktrace: {args.locktrace} ({args.revision})",
        f"- rounds: {args.rounds} (runners interleaved within each round), op scale {args.scale}",
        "",
        "Wall = the workload's own elapsed time (its timed section), median over the rounds; "
        "outer = the whole command, tracer start-up and drain included. "
        "Events: captured (the tracer's tally; strace: calls in its output) / expected "
        "(locktrace: one record per lock call, one per call that slept, three per task; "
        "reference: entry + exit per call; strace: calls). `~` = the workload estimated "
        "its futex calls (glibc makes them). Tracer CPU and peak RSS are the tracer "
        "process's own (its rusage minus the workload's).",
        "",
        "| workload | runner | wall median ms | min–max ms | × bare | outer ms | "
        "events captured / expected | lost (max) | tracer CPU ms | tracer peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in args.workloads:
        bare = median_of([r for r in suite.runs
                          if r["workload"] == name and r["runner"] == "bare" and r["ok"]], "elapsed_s")
        for runner in args.runners:
            every = [r for r in suite.runs if r["workload"] == name and r["runner"] == runner]
            rows = ok = [r for r in every if r["ok"]]
            med = median_of(ok, "elapsed_s")
            lo = min((r["elapsed_s"] for r in ok), default=None)
            hi = max((r["elapsed_s"] for r in ok), default=None)
            ratio = f"{med / bare:.2f}" if med and bare else "-"
            lost = "-" if runner in ("bare", "strace") else (
                "-" if median_of(rows, "lost") is None else str(max(r.get("lost") or 0 for r in rows)))
            failed = len(every) - len(ok)
            lines.append(
                f"| {name} | {runner}{f' ({failed} failed)' if failed else ''} | {fmt_ms(med)} | "
                f"{fmt_ms(lo)}–{fmt_ms(hi)} | {ratio} | {fmt_ms(median_of(rows, 'outer_s'))} | "
                f"{'-' if runner == 'bare' else events_cell(rows)} | {lost} | "
                f"{fmt_ms(median_of(rows, 'tracer_cpu_s'))} | {mib(median_of(rows, 'tracer_rss_kb'))} |")
    lines += ["", "## Recording size", "",
              "A lock-call record is 208 bytes in the ring buffer; the trace file compresses blocks.",
              "", "| workload | locks | events | bytes | bytes/event |", "|---|---|---:|---:|---:|"]
    for name, (_, events, size) in suite.recordings.items():
        per_event = f"{size / events:.1f}" if events else "-"
        lines.append(f"| {name} | {WORKLOADS[name][4]} | {events or '-'} | {size} | {per_event} |")
    if not suite.recordings:
        lines.append("| (no recording) | | | | |")
    lines += ["", "## Replay", ""]
    if replay:
        lines.append(f"Largest recording: {replay['workload']}, {replay['events']} events, "
                     f"{replay['bytes']} bytes.")
        lines.append("")
        for label, what in (("json", "`replay --json F >/dev/null`"),
                            ("pid_filter", "`replay --pid 1 F >/dev/null` (prints nothing)")):
            r = replay.get(label)
            if r:
                lines.append(f"- {what}: {r['events_per_s']:,.0f} events/s "
                             f"({fmt_ms(r['seconds'])} ms), peak RSS {mib(r['peak_rss_kb'])} MiB")
            else:
                lines.append(f"- {what}: failed")
    else:
        lines.append("- no recording to replay")
    lines += ["", "## Untraced process beside a traced one", ""]
    if neighbour:
        meds = {k: (statistics.median(v) if v else None) for k, v in neighbour.items()}
        lines.append(f"`mixed` run bare (untraced), wall median over {args.rounds} round(s), "
                     f"next to `{args.neighbour}`:")
        lines.append("")
        for k, label in (("alone", "alone"), ("beside_untraced", "beside it untraced"),
                         ("beside_traced", "beside it under `locktrace live --json >/dev/null`")):
            v = neighbour[k]
            span = f" (min–max {fmt_ms(min(v))}–{fmt_ms(max(v))})" if v else ""
            lines.append(f"- {label}: {fmt_ms(meds[k])} ms{span}")
        if meds["beside_traced"] and meds["beside_untraced"]:
            lines.append(f"- ratio traced / untraced neighbour: "
                         f"{meds['beside_traced'] / meds['beside_untraced']:.2f}")
    else:
        lines.append("- skipped")
    if suite.errors:
        lines += ["", "## Failed runs", ""] + [f"- {e}" for e in suite.errors]
    return "\n".join(lines) + "\n"


def git_revision(path):
    try:
        rev = subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", path, "status", "--porcelain", "--", "src", "bpf"],
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+uncommitted changes in src/ or bpf/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown revision"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--locktrace", required=True, help="the locktrace binary")
    p.add_argument("--bin-dir", required=True, help="where the workloads and reference_tracer are")
    p.add_argument("--quick", action="store_true", help="1 round, op counts / 10")
    p.add_argument("--rounds", type=int, help="rounds (default 5, --quick 1)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every op count")
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--runners", default=",".join(RUNNERS))
    p.add_argument("--neighbour", default="condvar_pingpong", choices=list(WORKLOADS),
                   help="the futex workload traced beside an untraced mixed")
    p.add_argument("--no-neighbour-check", action="store_true")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per run before it is killed")
    p.add_argument("--tmp-dir", default=None, help="for recordings (default: $TMPDIR or /tmp)")
    p.add_argument("--results", default=os.path.join(here, "results", "latest.md"))
    p.add_argument("--silent", action="store_true", help="no progress on stderr")
    args = p.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 5)
    args.workloads = [w for w in args.workloads.split(",") if w]
    args.runners = [r for r in args.runners.split(",") if r]
    for w in args.workloads:
        if w not in WORKLOADS:
            p.error(f"unknown workload {w}; known: {', '.join(WORKLOADS)}")
    for r in args.runners:
        if r not in RUNNERS:
            p.error(f"unknown runner {r}; known: {', '.join(RUNNERS)}")
    if "bare" not in args.runners:
        args.runners.insert(0, "bare")
    if "strace" in args.runners and not shutil.which("strace"):
        print("bench: strace not found, its runner is skipped", file=sys.stderr)
        args.runners.remove("strace")
    args.locktrace = os.path.abspath(args.locktrace)
    args.revision = git_revision(os.path.dirname(here))

    suite = Suite(args)

    def stop(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")

    signal.signal(signal.SIGTERM, stop)
    started = datetime.datetime.now()
    try:
        suite.matrix()
        replay = suite.replay()
        neighbour = None if args.no_neighbour_check else suite.neighbour_check()
    except KeyboardInterrupt:
        print("bench: interrupted; the processes it started were ended", file=sys.stderr)
        suite.cleanup()
        return 130
    finally:
        suite.groups.end_all()
    text = report(suite, replay, neighbour, started, datetime.datetime.now())
    suite.cleanup()
    sys.stdout.write(text)
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "w") as f:
        f.write(text)
    with open(os.path.splitext(args.results)[0] + ".json", "w") as f:
        json.dump({"runs": suite.runs, "replay": replay, "neighbour": neighbour,
                   "errors": suite.errors}, f, indent=1)
    print(f"bench: written to {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
