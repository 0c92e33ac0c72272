#!/usr/bin/env python3
"""Turns bench/run.sh's raw results (RAW/<target>.result, RAW/machine) into the Markdown report:
the table, the ratios of aml-handlers to each peer and to nginx, and the performance targets.

    report.py RAW_DIR > bench/results/latest.md
"""

import json
import os
import sys

LABELS = {
    "aml-handlers": "aml-handlers (Rust, dry run)",
    "node": "node (express + @azure/eventgrid)",
    "python": "python (aiohttp + azure-eventgrid)",
    "nginx": "nginx (static body, ceiling)",
    "actix-floor": "actix-web alone (static body, floor)",
}
ORDER = ["aml-handlers", "node", "python", "nginx", "actix-floor"]


def read_pairs(path):
    pairs = {}
    with open(path) as lines:
        for line in lines:
            line = line.rstrip("\n")
            if "=" in line:
                key, value = line.split("=", 1)
                pairs[key] = value
    return pairs


def load(raw):
    results = {}
    for name in os.listdir(raw):
        if not name.endswith(".result"):
            continue
        pairs = read_pairs(os.path.join(raw, name))
        requests = int(pairs["requests"])
        seconds = int(pairs["duration_us"]) / 1e6
        cpu_seconds = int(pairs["cpu_ticks"]) / int(pairs["clk_tck"])
        cold = json.loads(pairs["cold"])
        errors = {key[4:]: int(value) for key, value in pairs.items() if key.startswith("err_") and int(value)}
        results[pairs["target"]] = {
            "requests": requests,
            "rps": requests / seconds if seconds else 0.0,
            "p50_ms": float(pairs["p50_us"]) / 1000,
            "p99_ms": float(pairs["p99_us"]) / 1000,
            "cpu_us": cpu_seconds * 1e6 / requests if requests else float("nan"),
            "cpu_share": cpu_seconds / seconds if seconds else 0.0,
            "rss_mb": int(pairs["peak_rss_kb"]) / 1024,
            "cold_ms": cold["median_ms"],
            "cold_min_ms": cold["min_ms"],
            "cold_max_ms": cold["max_ms"],
            "cold_runs": cold["runs"],
            "response_bytes": int(pairs["response_bytes"]),
            "errors": errors,
            "core_other_pct": 100 * int(pairs["core_other_ticks"]) / max(int(pairs["core_total_ticks"]), 1),
            "attempts": int(pairs.get("attempts", "1")),
            "runs_rps": [float(value) for value in pairs.get("runs_rps", "").split()],
            "runs_p99_ms": [float(value) / 1000 for value in pairs.get("runs_p99_us", "").split()],
            "core_steal_pct": 100 * int(pairs["core_steal_ticks"]) / max(int(pairs["core_total_ticks"]), 1),
        }
    return results


def num(value, digits=0):
    return f"{value:,.{digits}f}"


def main():
    raw = sys.argv[1]
    machine = read_pairs(os.path.join(raw, "machine"))
    results = load(raw)
    names = [name for name in ORDER if name in results] + sorted(set(results) - set(ORDER))
    out = []
    say = out.append

    say("# aml-handlers benchmark")
    say("")
    say(
        f"Machine: {machine['nproc']} cores, {machine['cpu']}, {machine['kernel']}; "
        f"{machine['date']}; load average before the run {machine['loadavg']}."
    )
    say(
        f"Versions: rustc {machine['rustc']}, node {machine['node']}, python {machine['python']}, "
        f"nginx {machine['nginx']}, wrk {machine['wrk']}; aml-handlers built from commit "
        f"{(machine.get('commit') or 'unknown')[:12]} (binary sha256 {machine.get('binary_sha256', '?')})."
    )
    say(
        f"Run: each server alone on core {machine['server_cpu']} (`taskset`), "
        f"`wrk -t1 -c{machine['connections']} -d{machine['duration']} --latency` on core "
        f"{machine['load_cpu']} after a {machine['warmup']} warm-up, "
        f"{machine.get('runs', '1')} times (the run with the median invocations/s is shown), POSTing the host-shaped, "
        f"double-encoded RunCompleted invocation ({machine['invocation_bytes']} bytes) to "
        f"`/RunCompleted`; cold start is the median of {machine['cold_runs']} runs of exec to the "
        f"first 200 on `GET /`."
    )
    say("")
    say("| target | inv/s | p50 ms | p99 ms | CPU µs/inv | peak RSS MB | cold start ms |")
    say("|---|---:|---:|---:|---:|---:|---:|")
    for name in names:
        r = results[name]
        flag = " ⚠" if r["errors"] else ""
        say(
            f"| {LABELS.get(name, name)}{flag} | {num(r['rps'])} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} "
            f"| {r['cpu_us']:.1f} | {r['rss_mb']:.1f} | {r['cold_ms']:.1f} |"
        )
    say("")
    notes = []
    for name in names:
        r = results[name]
        notes.append(
            f"{name}: {num(r['requests'])} invocations, server used {r['cpu_share'] * 100:.0f}% of its core, "
            f"its core was {r['core_other_pct']:.0f}% busy with other work and {r['core_steal_pct']:.0f}% stolen, "
            f"answer {r['response_bytes']} bytes, cold start {r['cold_min_ms']:.1f}–{r['cold_max_ms']:.1f} ms"
            + (
                f", runs {' / '.join(num(rps) for rps in r['runs_rps'])} inv/s "
                f"(p99 {' / '.join(f'{p99:.3f}' for p99 in r['runs_p99_ms'])} ms), the median kept"
                if len(r["runs_rps"]) > 1
                else ""
            )
            + (f", measured again after {r['attempts'] - 1} noisy run(s)" if r["attempts"] > 1 else "")
            + (f", wrk errors {r['errors']}" if r["errors"] else "")
        )
    say("Details: " + "; ".join(notes) + ".")
    noisy = [name for name in names if results[name]["core_other_pct"] + results[name]["core_steal_pct"] > 5]
    if noisy:
        say("")
        say(
            f"Noise: the server's core did more than 5% other work (or lost it to the hypervisor) while "
            f"{', '.join(noisy)} ran: those rows are pessimistic."
        )
    if any(results[name]["errors"] for name in names):
        say("")
        say("⚠: wrk counted errors (non-2xx answers, socket errors or timeouts) for this target.")

    ours = results.get("aml-handlers")
    if ours:
        say("")
        say("## Ratios (aml-handlers to each peer)")
        say("")
        for peer in ("node", "python"):
            if peer not in results:
                continue
            p = results[peer]
            say(
                f"- vs {peer}: **{ours['rps'] / p['rps']:.1f}x** the invocations/s, "
                f"**1/{p['cpu_us'] / ours['cpu_us']:.1f}** of the CPU per invocation, "
                f"p99 {ours['p99_ms']:.3f} vs {p['p99_ms']:.3f} ms ({p['p99_ms'] / ours['p99_ms']:.1f}x lower), "
                f"peak RSS 1/{p['rss_mb'] / ours['rss_mb']:.1f}, "
                f"cold start 1/{p['cold_ms'] / ours['cold_ms']:.0f}"
            )
        if "nginx" in results:
            n = results["nginx"]
            say(
                f"- vs nginx's static body (the ceiling): **{ours['rps'] / n['rps'] * 100:.0f}%** of its "
                f"invocations/s, {ours['cpu_us'] / n['cpu_us']:.1f}x its CPU per request"
            )
        if "actix-floor" in results:
            f = results["actix-floor"]
            say(
                f"- vs actix-web alone (the framework's floor, reading the same invocation and answering "
                f"the same bytes): **{ours['rps'] / f['rps'] * 100:.0f}%** of its invocations/s, "
                f"{ours['cpu_us'] / f['cpu_us']:.1f}x its CPU per request"
            )
            if "nginx" in results:
                say(f"- actix-web alone vs nginx: {f['rps'] / results['nginx']['rps'] * 100:.0f}% of its invocations/s")

        say("")
        say("## Performance targets")
        say("")
        say("| target | wanted | measured | |")
        say("|---|---|---|---|")

        def row(what, wanted, measured, ok):
            say(f"| {what} | {wanted} | {measured} | {'met' if ok else '**missed**'} |")

        for peer in ("node", "python"):
            if peer in results:
                ratio = ours["rps"] / results[peer]["rps"]
                row(f"invocations/s vs {peer}", ">= 12x", f"{ratio:.1f}x", ratio >= 12)
        if "node" in results:
            share = ours["cpu_us"] / results["node"]["cpu_us"]
            row("CPU per invocation vs node", "<= 1/10", f"1/{1 / share:.1f}", share <= 0.1)
        if "nginx" in results:
            # An absolute p99 moves with the machine; nginx's, in the same run, is the yardstick.
            ceiling = results["nginx"]["p99_ms"]
            times = ours["p99_ms"] / ceiling
            row(
                f"p99 at {machine['connections']} connections vs nginx's",
                "<= 2x",
                f"{ours['p99_ms']:.3f} vs {ceiling:.3f} ms ({times:.1f}x)",
                times <= 2,
            )
        row("peak RSS", "<= 15 MB", f"{ours['rss_mb']:.1f} MB", ours["rss_mb"] <= 15)
        row("cold start (median)", "<= 10 ms", f"{ours['cold_ms']:.1f} ms", ours["cold_ms"] <= 10)
        if "nginx" in results:
            share = ours["rps"] / results["nginx"]["rps"]
            row("share of nginx's invocations/s", ">= 60%", f"{share * 100:.0f}%", share >= 0.6)
    print("\n".join(out))


if __name__ == "__main__":
    main()
