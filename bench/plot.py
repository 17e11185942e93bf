"""Cost against size, one line per build stage, as an SVG (log–log axes).

    python -m bench.plot bench/results/RUN.json [more runs…] [--out docs/img/cost-vs-size.svg]

Reads the harness's JSON results; for each stage and each size, the median wall time of the
latest run given that measured it (load, reason, validate and index as the build command reported
them when it was timed, else from the per-stage harness) (a stage stopped at its budget is drawn as an open circle at the
time it had, meaning "more than this"). The slope between two sizes on a log–log plot is how the
cost grows: 1 is linear, 2 quadratic. Written as plain SVG so the plot needs no plotting library.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = [("load", "load", "#1f77b4"), ("reason_rules", "reason (rules engine)", "#2ca02c"),
          ("reason_owlrl", "reason (owlrl, reference)", "#98df8a"), ("validate", "validate (as build() runs it)", "#d62728"),
          ("validate_pyshacl", "validate (pySHACL, reference)", "#ff9896"),
          ("index", "name index", "#9467bd"), ("store", "store (pyoxigraph)", "#8c564b"),
          ("command", "pole-graph build, start to exit", "#000000")]


def points(runs: list[dict]) -> dict[str, dict[int, tuple[float, bool]]]:
    """stage -> data triples -> (seconds, finished)."""
    out: dict[str, dict[int, tuple[float, bool]]] = {}
    for run in runs:  # later runs override earlier ones
        for size in run.get("sizes", {}).values():
            command = size.get("command") or {}
            n = next((v for k, v in (command.get("counts") or {}).items() if k.endswith("/data")), None)
            if n and command.get("runs"):  # the whole command (also at sizes not timed stage by stage)
                out.setdefault("command", {})[n] = (statistics.median(command["runs"]), True)
                # and the stages as the command ran them, which override the per-stage harness's
                for key, name in (("load", "load"), ("reason_rules", "reason"), ("validate", "validate"), ("index", "index")):
                    times = [st[name] for st in command.get("stages") or [] if st.get(name) is not None]
                    if times:
                        out.setdefault(key, {})[n] = (statistics.median(times), True)
            build = size.get("build") or {}
            n = (build.get("graphs") or {}).get("data")
            if not n:
                continue
            stages = dict(build.get("stages") or {})
            if "validate_pyshacl" not in stages and "validate" in stages:  # runs before 2026-11-28: pySHACL was build()'s
                stages["validate_pyshacl"] = stages.pop("validate")
            for key, _, _ in STAGES:
                st = stages.get(key)
                if not st or (key in ("load", "reason_rules", "validate", "index") and command.get("stages")):
                    continue
                if st.get("status") == "ok" and st.get("runs"):
                    out.setdefault(key, {})[n] = (statistics.median(st["runs"]), True)
                elif st.get("status") == "timeout" and st.get("ran_for"):
                    out.setdefault(key, {})[n] = (st["ran_for"], False)
    return out


def svg(data: dict[str, dict[int, tuple[float, bool]]], title: str) -> str:
    width, height, left, right, top, bottom = 820, 460, 70, 270, 40, 50
    xs = [n for d in data.values() for n in d]
    ys = [s for d in data.values() for s, _ in d.values()]
    if not xs:
        raise SystemExit("no stage times in these runs")
    x0, x1 = 10 ** math.floor(math.log10(min(xs))), 10 ** math.ceil(math.log10(max(xs)))
    y0, y1 = 10 ** math.floor(math.log10(max(min(ys), 1e-3))), 10 ** math.ceil(math.log10(max(ys)))

    def px(n: float) -> float:
        return left + (math.log10(n) - math.log10(x0)) / (math.log10(x1) - math.log10(x0)) * (width - left - right)

    def py(s: float) -> float:
        s = max(s, y0)
        return height - bottom - (math.log10(s) - math.log10(y0)) / (math.log10(y1) - math.log10(y0)) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{left}" y="22" font-size="14" font-weight="bold">{title}</text>']
    decade = x0
    while decade <= x1:
        x = px(decade)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - bottom}" stroke="#ddd"/>')
        label = f"{decade / 1e6:g}M" if decade >= 1e6 else f"{decade / 1e3:g}k"
        parts.append(f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle">{label}</text>')
        decade *= 10
    decade = y0
    while decade <= y1:
        y = py(decade)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        label = f"{decade * 1000:g} ms" if decade < 1 else f"{decade:g} s"
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
        decade *= 10
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">data triples (log)</text>')
    parts.append(f'<text x="16" y="{(top + height - bottom) / 2}" transform="rotate(-90 16 {(top + height - bottom) / 2})" '
                 'text-anchor="middle">seconds, wall clock (log)</text>')
    y_legend = top + 10
    for key, name, colour in STAGES:
        series = sorted((data.get(key) or {}).items())
        if not series:
            continue
        path = " ".join(f"{'M' if i == 0 else 'L'}{px(n):.1f},{py(s):.1f}" for i, (n, (s, _)) in enumerate(series))
        parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for n, (s, done) in series:
            fill = colour if done else "white"
            parts.append(f'<circle cx="{px(n):.1f}" cy="{py(s):.1f}" r="4" fill="{fill}" stroke="{colour}" stroke-width="2">'
                         f'<title>{name}: {s:.3g} s at {n:,} triples{"" if done else " (stopped: more than this)"}</title></circle>')
        slope = ""
        if len(series) >= 2 and series[-1][1][1] and series[-2][1][1]:
            (na, (sa, _)), (nb, (sb, _)) = series[-2], series[-1]
            slope = f" (slope {math.log(sb / sa) / math.log(nb / na):.2f})"
        parts.append(f'<line x1="{width - right + 14}" y1="{y_legend}" x2="{width - right + 34}" y2="{y_legend}" '
                     f'stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{width - right + 40}" y="{y_legend + 4}" font-size="11">{name}{slope}</text>')
        y_legend += 18
    parts.append(f'<text x="{width - right + 14}" y="{y_legend + 10}" font-size="10">open circle: stopped at its budget</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.plot", description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="harness results (bench/results/RUN.json), oldest first")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "cost-vs-size.svg")
    ap.add_argument("--title", default="Build stages: cost against size")
    ns = ap.parse_args(argv)
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in ns.runs]
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    ns.out.write_text(svg(points(runs), ns.title), encoding="utf-8")
    print(f"wrote {ns.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
