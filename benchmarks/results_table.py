"""Turn a pytest-benchmark JSON file into a Markdown table for benchmarks/RESULTS.md.

Usage::

    .venv/bin/pytest benchmarks/bench_kernels.py --benchmark-only --benchmark-json=out.json
    .venv/bin/python benchmarks/results_table.py out.json >> benchmarks/RESULTS.md

Each row is one benchmark: its name, the minimum and median wall time, the rounds, and every
figure the benchmark put into ``extra_info`` (pairs/s, memory, placements/s, ...).
"""

import json
import sys


def _fmt_time(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _fmt_value(value):
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-2):
            return f"{value:.3g}"
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


def markdown_table(report):
    """Markdown lines for one pytest-benchmark report (a dict loaded from its JSON)."""
    machine = report.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw", "unknown CPU")
    lines = [f"Run {report.get('datetime', '?')} on {machine.get('node', '?')} ({cpu}, "
             f"{machine.get('cpu', {}).get('count', '?')} logical cores, Python {machine.get('python_version', '?')})",
             "",
             "| benchmark | min | median | rounds | figures |",
             "|---|---|---|---|---|"]
    for bench in report.get("benchmarks", []):
        stats = bench["stats"]
        extra = "; ".join(f"{k} = {_fmt_value(v)}" for k, v in bench.get("extra_info", {}).items())
        lines.append(f"| `{bench['name']}` | {_fmt_time(stats['min'])} | {_fmt_time(stats['median'])} | "
                     f"{stats['rounds']} | {extra} |")
    return lines


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    for path in argv[1:]:
        with open(path, encoding="utf-8") as fh:
            print("\n".join(markdown_table(json.load(fh))))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
