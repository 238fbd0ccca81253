#!/usr/bin/env python3
"""The stack against AWS-like waits (issue 15): the emulator's latency mode at SCALE (default 0.25: a
quarter of AWS's typical durations), the pipelines run as real pipes, one table per stack: the cold `up`
(overlapped with HMS_OVERLAP=1, and optionally plain), a no-op `plan`, and `down`, with each tool's part
(its first AWS call and its exit, from the pipeline's start) and the stack's critical path computed from
the latency profile over the dependencies AWS imposes:

  NAT → private routes; database → task definitions (endpoint); cache → task definitions (endpoint);
  task definitions → service rollout; ACM validation → HTTPS listener and distribution;
  ALB → distribution (origin); distribution → alias records.

Usage: scripts/bench_latency.py --bin DIR --calls FILE --endpoint URL --config FILE [--scale S] [--plain]
       [--stacks nine,six,sixnowait,nineplain]
(scripts/bench.sh runs it after the other tables, or alone with BENCH_ONLY=latency).
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

NINE = ["hms-vpc", "hms-security", "hms-dns", "hms-db", "hms-cache", "hms-ecs", "hms-edge", "hms-backup", "hms-observe"]
SIX = ["hms-vpc", "hms-security", "hms-db", "hms-ecs", "hms-backup", "hms-observe"]
# What `down` needs to delete a production stack (the flags come only from the command line).
DOWN_FLAGS = {
    "hms-db": ["--disable-deletion-protection", "--skip-final-snapshot"],
    "hms-cache": ["--skip-final-snapshot"],
    "hms-ecs": ["--delete-logs", "--disable-deletion-protection"],
}


def api(endpoint, method, path, body=None):
    req = urllib.request.Request(endpoint.rstrip("/") + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"{}")


def critical_path(typical, scale, tools):
    """The longest chain of waits over the dependencies above, for the tools in the stack."""
    d = {k: v * scale for k, v in typical.items()}
    chains = {"NAT → private routes": d["nat_gateway.pending"]}
    if "hms-ecs" in tools:
        chains["ALB provisioning"] = d["load_balancer.provisioning"]
        chains["database → task definitions → rollout"] = d["db_instance.creating"] + d["ecs.deployment"]
        if "hms-cache" in tools:
            chains["cache → task definitions → rollout"] = d["replication_group.creating"] + d["ecs.deployment"]
    else:
        chains["database"] = d["db_instance.creating"]
    if "hms-dns" in tools:
        chains["ACM validation → HTTPS listener"] = d["certificate.pending_validation"]
    if "hms-edge" in tools:
        dist = d["distribution.in_progress"]
        chains["ACM validation → distribution → alias records"] = d["certificate.pending_validation"] + dist
        chains["ALB → distribution → alias records"] = d["load_balancer.provisioning"] + dist
    name = max(chains, key=chains.get)
    return chains[name], name


def calls_by_key(path, since):
    """(first call time, count) per access key id, for calls logged after `since`."""
    out = {}
    with open(path, "rb") as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            t = e.get("t") or 0
            if t < since:
                continue
            k = e.get("akid", "")
            first, n = out.get(k, (t, 0))
            out[k] = (min(first, t), n + 1)
    return out


def pipeline(tools, verb, base, env, overlap, extra=None):
    """Runs `t1 verb | t2 verb | …` as real pipes; returns (start, {tool: exit time}, {tool: code}, keys)."""
    procs, keys = [], {}
    prev = subprocess.DEVNULL
    start = time.time()
    for tool in tools:
        e = dict(env)
        key = f"bench{base['tag']}{tool.split('-')[1]}"
        keys[tool] = key
        e["AWS_ACCESS_KEY_ID"] = key
        if overlap:
            e["HMS_OVERLAP"] = "1"
        else:
            e.pop("HMS_OVERLAP", None)
        cmd = [os.path.join(base["bin"], tool), verb, *base["args"], *(extra or {}).get(tool, [])]
        p = subprocess.Popen(cmd, env=e, stdin=prev, stdout=subprocess.PIPE, stderr=base["log"])
        if prev is not subprocess.DEVNULL:
            prev.close()
        prev = p.stdout
        procs.append((tool, p))
    # The last tool's stdout: read to the end (the final document), as a person's terminal would.
    reader = threading.Thread(target=prev.read)
    reader.start()
    ended, codes = {}, {}
    while len(ended) < len(procs):
        for tool, p in procs:
            if tool not in ended and p.poll() is not None:
                ended[tool] = time.time()
                codes[tool] = p.returncode
        time.sleep(0.05)
    reader.join()
    return start, ended, codes, keys


def down(tools, base, env):
    """`down` tool by tool, the last first; returns (start, {tool: exit time}, {tool: code}, keys)."""
    start, ended, codes, keys = time.time(), {}, {}, {}
    for tool in reversed(tools):
        e = dict(env)
        key = f"bench{base['tag']}{tool.split('-')[1]}d"
        keys[tool] = key
        e["AWS_ACCESS_KEY_ID"] = key
        cmd = [os.path.join(base["bin"], tool), "down", "--yes", *base["args"], *DOWN_FLAGS.get(tool, [])]
        p = subprocess.run(cmd, env=e, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=base["log"])
        ended[tool] = time.time()
        codes[tool] = p.returncode
    return start, ended, codes, keys


def rows(label, tools, result, calls_path):
    start, ended, codes, keys = result
    seen = calls_by_key(calls_path, start)
    total = max(ended.values()) - start
    out = [f"| {label} | **{total:.1f} s** | | | {sum(seen.get(keys[t], (0, 0))[1] for t in tools)} | "
           f"{'ok' if all(c == 0 for c in codes.values()) else 'FAILED: ' + ', '.join(t for t, c in codes.items() if c)} |"]
    for tool in tools:
        first, n = seen.get(keys[tool], (None, 0))
        begin = f"{first - start:.1f} s" if first else "–"
        out.append(f"| &nbsp;&nbsp;{tool} | {ended[tool] - start:.1f} s | {begin} | "
                   f"{ended[tool] - (first or start):.1f} s | {n} | exit {codes[tool]} |")
    return total, out


def stack(name, tools, args, env, typical, log, results):
    """One stack: cold up (overlapped, then plain with --plain on a second stack), plan, down."""
    tag = f"{name}{os.getpid() % 1000}"
    state = os.path.join(args.state, tag)
    # The nine-tool stack is the demo's (its config); the six-tool one the reference stack (no config), the
    # one the seed's Terraform was measured on.
    config = ["--config", args.config] if len(tools) == len(NINE) else []
    if name == "nineplain":
        # Beside the overlapped nine-tool stack: a zone of its own (hms-dns makes the demo's zone).
        config += ["--set", "dns.domain_name=plain.hospital.example"]
    base = {"bin": args.bin, "tag": tag, "log": log, "args": ["--stack", tag, "--state", state, *config]}
    extra = {"hms-ecs": ["--no-wait"]} if name.endswith("nowait") else None
    cp, chain = critical_path(typical, args.scale, tools)
    lines = []
    up = pipeline(tools, "up", base, env, overlap=not name.endswith("plain"), extra=extra)
    total, r = rows("up (cold)" + (", plain pipeline" if name.endswith("plain") else ", HMS_OVERLAP=1")
                    + (", hms-ecs --no-wait" if extra else ""), tools, up, args.calls)
    lines += r
    ok = all(c == 0 for c in up[2].values())
    if ok:
        _, r = rows("plan (no-op)", tools, pipeline(tools, "plan", base, env, overlap=False), args.calls)
        lines += r
    _, r = rows("down", tools, down(tools, base, env), args.calls)
    lines += r
    results.append((name, tools, cp, chain, total, lines))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--calls", required=True)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--state", default=".hms/bench-latency")
    ap.add_argument("--scale", type=float, default=0.25)
    ap.add_argument("--plain", action="store_true", help="also the nine-tool stack as a plain pipeline")
    ap.add_argument("--stacks", default="", help="only these of nine,six,sixnowait,nineplain")
    args = ap.parse_args()
    env = dict(os.environ)
    before = api(args.endpoint, "GET", "/hms-api/latency")
    api(args.endpoint, "POST", "/hms-api/latency", {"scale": args.scale})
    typical = api(args.endpoint, "GET", "/hms-api/latency")["typical_seconds"]
    os.makedirs(args.state, exist_ok=True)
    log = open(args.state + ".log", "w")
    results = []
    # The stacks run side by side (their waits are the emulator's clock, not the machine's).
    plans = [("nine", NINE), ("six", SIX), ("sixnowait", SIX)]
    if args.plain:
        plans.append(("nineplain", NINE))
    if args.stacks:
        every = dict(plans + [("nineplain", NINE)])
        plans = [(n, every[n]) for n in args.stacks.split(",")]
    threads = [threading.Thread(target=stack, args=(n, t, args, env, typical, log, results)) for n, t in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    api(args.endpoint, "POST", "/hms-api/latency", {"scale": before.get("scale", 0)})
    print(f"\n## AWS-like waits (HMS_EMULATOR_LATENCY={args.scale})\n")
    print("Each tool's row: when its process exited (its final document), its first AWS call, the span between, "
          "its calls. Stderr of every run: " + log.name + "\n")
    order = {n: i for i, (n, _) in enumerate(plans)}
    for name, tools, cp, chain, total, lines in sorted(results, key=lambda r: order[r[0]]):
        print(f"### {len(tools)} tools ({' | '.join(tools)})\n")
        print(f"Critical path from the profile: **{cp:.1f} s** ({chain}); cold up / critical path = "
              f"**{total / cp:.2f}**\n")
        print("| step / tool | exit | first call | span | AWS calls | result |")
        print("|---|---:|---:|---:|---:|---|")
        for line in lines:
            print(line)
        print()
    failed = [n for n, *_, lines in results if any("FAILED" in l for l in lines)]
    if failed:
        sys.exit(f"bench_latency: runs failed in {', '.join(failed)} (see {log.name})")


if __name__ == "__main__":
    main()
