#!/usr/bin/env python3
"""Benchmarks of the hms tools against the local emulator: median wall time over N runs, peak RSS of the
tool's process, and the AWS calls each command made (from the emulator's call log), as one table.

Usage: scripts/bench.py --bin DIR --calls FILE [--runs N]   (scripts/bench.sh sets these up)
"""
import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import time


def run(cmd, env, stdin=b""):
    """Runs cmd; returns (seconds, peak RSS KiB, exit code, stdout)."""
    start = time.perf_counter()
    # No document: /dev/null (an empty pipe is an upstream that died before writing).
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if stdin:
        p.stdin.write(stdin)
        p.stdin.close()
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, usage.ru_maxrss, p.returncode, out


class Calls:
    """Reads the calls the emulator logged since the last mark."""

    def __init__(self, path):
        self.path = path
        self.offset = os.path.getsize(path) if os.path.exists(path) else 0

    def mark(self):
        self.offset = os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def since(self):
        if not os.path.exists(self.path):
            return collections.Counter()
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        c = collections.Counter()
        for line in data.splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            c[f'{e.get("service")}:{e.get("operation")}'] += 1
        return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--calls", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tools", default="hms-vpc")
    ap.add_argument("--ecs-scale", default="", help="comma-separated service counts for the hms-ecs scaling table")
    ap.add_argument("--config", default="", help="an hms.toml every tool reads (the nine-tool stack's)")
    ap.add_argument("--state-base", default=".hms/bench", help="a directory, or s3://BUCKET/PREFIX for the S3 store")
    ap.add_argument("--steps", default="up (cold),plan (no-op),up (no-op),down")
    ap.add_argument("--title", default="", help="a line printed above the tables")
    args = ap.parse_args()
    env = dict(os.environ)
    calls = Calls(args.calls)
    tools = args.tools.split(",")
    steps = args.steps.split(",")
    extra = ["--config", args.config] if args.config else []
    results = collections.defaultdict(lambda: {"t": [], "rss": [], "calls": None})
    # The whole pipeline per step: the tools run one after the other (as `a | b | …` does, each waiting for
    # the document before its first call), so its wall time is the sum of theirs in that run.
    pipeline = collections.defaultdict(lambda: {"t": [], "rss": [], "calls": None})

    for i in range(args.runs):
        stack = f"bench{os.getpid() % 10000}-{i}"
        state = args.state_base if args.state_base.startswith("s3://") else f"{args.state_base}/{stack}"
        for step in steps:
            doc = b""
            total_t, total_rss, total_calls = 0.0, 0, collections.Counter()
            order = tools if step != "down" else list(reversed(tools))
            for tool in order:
                verb = step.split()[0]
                cmd = [os.path.join(args.bin, tool), verb, "--stack", stack, "--state", state] + extra
                if verb == "down":
                    cmd.append("--yes")
                    if tool == "hms-db":
                        # The reference database is deletion-protected; the benchmark takes it down anyway.
                        cmd += ["--disable-deletion-protection", "--skip-final-snapshot"]
                    if tool == "hms-cache":
                        cmd.append("--skip-final-snapshot")
                    if tool == "hms-ecs":
                        cmd += ["--delete-logs", "--disable-deletion-protection"]
                calls.mark()
                t, rss, code, out = run(cmd, env, doc if verb != "down" else b"")
                if code != 0:
                    sys.exit(f"{' '.join(cmd)} exited {code}")
                doc = out
                r = results[(tool, step)]
                r["t"].append(t)
                r["rss"].append(rss)
                r["calls"] = calls.since()
                total_t += t
                total_rss = max(total_rss, rss)
                total_calls += r["calls"]
            p = pipeline[step]
            p["t"].append(total_t)
            p["rss"].append(total_rss)
            p["calls"] = total_calls

    # --version: process start-up, 20 runs.
    for tool in tools:
        times = [run([os.path.join(args.bin, tool), "--version"], env)[0] for _ in range(20)]
        results[(tool, "--version")] = {"t": times, "rss": [0], "calls": collections.Counter(), "bin": args.bin}

    if args.title:
        print(f"\n{args.title}\n")
    table(results)
    if len(tools) > 1:
        pipeline_table(tools, pipeline)
    if args.ecs_scale:
        ecs_scale(args, env, calls, [int(n) for n in args.ecs_scale.split(",")])


def ecs_config(n):
    """A config with the two reference services and n-2 more, each on its own path."""
    lines = []
    for i in range(max(n - 2, 0)):
        lines += [f"[ecs.services.w{i}]", f"port = {9000 + i}", "cpu = 256", "memory = 512", f'path = "/w{i}/*"', ""]
    return "\n".join(lines)


def ecs_scale(args, env, calls, counts):
    """How hms-ecs's time and calls grow with the number of services (upstream tools untimed)."""
    rows = collections.defaultdict(lambda: {"t": [], "rss": [], "calls": None})
    for n in counts:
        for i in range(max(args.runs // 2, 2)):
            stack = f"ecs{n}x{os.getpid() % 1000}{i}"
            state = args.state_base if args.state_base.startswith("s3://") else f"{args.state_base}/{stack}"
            os.makedirs(state, exist_ok=True)
            cfg = os.path.join(state, "hms.toml")
            with open(cfg, "w") as f:
                f.write(ecs_config(n) + "\n[db]\ndeletion_protection = false\n")
            base = ["--stack", stack, "--state", state, "--config", cfg]
            doc = b""
            for tool in ["hms-vpc", "hms-security", "hms-db"]:
                t, rss, code, doc = run([os.path.join(args.bin, tool), "up", *base], env, doc)
                if code != 0:
                    sys.exit(f"{tool} up exited {code}")
            for step, cmd in [("up (cold)", ["up"]), ("plan (no-op)", ["plan"]), ("up (no-op)", ["up"]), ("down", ["down", "--yes", "--delete-logs", "--disable-deletion-protection"])]:
                calls.mark()
                t, rss, code, _ = run([os.path.join(args.bin, "hms-ecs"), *cmd, *base], env, doc if cmd[0] != "down" else b"")
                if code != 0:
                    sys.exit(f"hms-ecs {cmd} exited {code}")
                r = rows[(n, step)]
                r["t"].append(t)
                r["rss"].append(rss)
                r["calls"] = calls.since()
            for tool in ["hms-db", "hms-security", "hms-vpc"]:
                extra = ["--skip-final-snapshot"] if tool == "hms-db" else []
                run([os.path.join(args.bin, tool), "down", "--yes", *extra, *base], env)
    print()
    print("| hms-ecs services | command | median wall | peak RSS | AWS calls | calls by operation |")
    print("|---:|---|---:|---:|---:|---|")
    for (n, step), r in rows.items():
        ops = ", ".join(f"{k.split(':', 1)[1]}×{v}" if v > 1 else k.split(":", 1)[1] for k, v in sorted(r["calls"].items()))
        print(f"| {n} | {step} | {statistics.median(r['t']) * 1000:.0f} ms | {max(r['rss']) / 1024:.1f} MiB | {sum(r['calls'].values())} | {ops} |")


def pipeline_table(tools, pipeline):
    """One row per step for the whole pipeline: wall time, the largest tool's peak RSS, calls by service."""
    print()
    print(f"| pipeline ({' | '.join(tools)}) | median wall | min–max | peak RSS | AWS calls | calls by service |")
    print("|---|---:|---:|---:|---:|---|")
    for step, r in pipeline.items():
        by_service = collections.Counter()
        for k, v in r["calls"].items():
            by_service[k.split(":", 1)[0]] += v
        svc = ", ".join(f"{k}×{v}" for k, v in sorted(by_service.items()))
        print(f"| {step} | {statistics.median(r['t']) * 1000:.0f} ms | {min(r['t']) * 1000:.0f}–{max(r['t']) * 1000:.0f} ms | "
              f"{max(r['rss']) / 1024:.1f} MiB | {sum(r['calls'].values())} | {svc or '–'} |")


def table(results):
    print(f"| tool | command | median wall | min–max | peak RSS | AWS calls | calls by operation |")
    print("|---|---|---:|---:|---:|---:|---|")
    for (tool, step), r in results.items():
        med = statistics.median(r["t"])
        total = sum(r["calls"].values())
        ops = ", ".join(f"{k.split(':', 1)[1]}×{v}" if v > 1 else k.split(":", 1)[1] for k, v in sorted(r["calls"].items()))
        if step == "--version":
            # The binary's size stands where the calls would be: start-up is what size costs.
            ops = f"binary {os.path.getsize(os.path.join(r.get('bin', ''), tool)) / 1048576:.1f} MiB" if r.get("bin") else ops
        rss = f"{max(r['rss']) / 1024:.1f} MiB" if max(r["rss"]) else "–"
        print(f"| {tool} | {step} | {med * 1000:.0f} ms | {min(r['t']) * 1000:.0f}–{max(r['t']) * 1000:.0f} ms | {rss} | {total} | {ops or '–'} |")


if __name__ == "__main__":
    main()
