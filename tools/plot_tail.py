#!/usr/bin/env python3
"""Draw the tail-latency experiment (tools/bench_tail.py's points file) as an SVG.

  python3 tools/plot_tail.py build/bench/tail.jsonl docs/tail-latency.svg

Two panels against offered load: p99 slowdown and p99.9 latency, both on a
log scale, one line per configuration (FCFS, preemption every 5/10/25 us, the
foreground-first policy, preemption at arrival);
points with "system": "linux" (the Linux-signal servers in the guest,
tools/linux-guest/init/lg_tail.c) dashed in the same colours.
Standard library only.
"""
import json
import math
import sys

COLORS = {"fcfs": "#d62728", "ps5us": "#1f77b4", "ps10us": "#2ca02c", "ps25us": "#9467bd",
          "fb5us": "#8c564b", "ps_arrival5us": "#17becf", "fb_arrival5us": "#ff7f0e"}
LABELS = {"fcfs": "FCFS (no preemption)", "ps5us": "upcall every 5 us",
          "ps10us": "upcall every 10 us", "ps25us": "upcall every 25 us",
          "fb5us": "5 us, fresh requests first",
          "ps_arrival5us": "5 us and at each arrival",
          "fb_arrival5us": "5 us and at arrival, fresh first"}
W, H, M = 460, 340, 60  # one panel; margin


def key(p):
    k = "fcfs" if p["policy"] == "fcfs" else f"{p['policy']}{p['quantum_us']}us"
    return k if p.get("system", "hallows") == "hallows" else f"{p['system']}-{k}"


def color(k):
    return COLORS.get(k.split("-", 1)[-1], "#000")


def dash(k):
    return ' stroke-dasharray="5 3"' if "-" in k else ""


def label(k):
    if "-" in k:
        base = k.split("-", 1)[1]
        return "Linux " + ("FCFS" if base == "fcfs" else "signals: " + LABELS.get(base, base))
    return LABELS.get(k, k)


def panel(x0, title, ylabel, series, field, scale, ymin, ymax, hline=None):
    out = [f'<g transform="translate({x0},0)">',
           f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="15">{title}</text>']
    lx0, lx1, ly0, ly1 = M, W - 15, H - 45, 40
    ly = (math.log10(ymin), math.log10(ymax))

    def X(load):
        return lx0 + (lx1 - lx0) * load / 100

    def Y(v):
        v = min(max(v, ymin), ymax)
        return ly0 - (ly0 - ly1) * (math.log10(v) - ly[0]) / (ly[1] - ly[0])

    out.append(f'<rect x="{lx0}" y="{ly1}" width="{lx1 - lx0}" height="{ly0 - ly1}" '
               'fill="none" stroke="#444"/>')
    for load in range(0, 101, 20):
        out.append(f'<text x="{X(load)}" y="{ly0 + 16}" text-anchor="middle" '
                   f'font-size="11">{load}</text>')
    e = math.floor(ly[0])
    while e <= ly[1]:
        if e >= ly[0]:
            out.append(f'<line x1="{lx0}" x2="{lx1}" y1="{Y(10 ** e):.1f}" y2="{Y(10 ** e):.1f}" '
                       'stroke="#ddd"/>')
            lab = f"{10 ** e:g}"
            out.append(f'<text x="{lx0 - 5}" y="{Y(10 ** e) + 4:.1f}" text-anchor="end" '
                       f'font-size="11">{lab}</text>')
        e += 1
    if hline:
        out.append(f'<line x1="{lx0}" x2="{lx1}" y1="{Y(hline):.1f}" y2="{Y(hline):.1f}" '
                   'stroke="#888" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{lx1 - 4}" y="{Y(hline) - 4:.1f}" text-anchor="end" '
                   f'font-size="10" fill="#666">target {hline:g}</text>')
    out.append(f'<text x="{W / 2 + 20}" y="{H - 12}" text-anchor="middle" font-size="12">'
               'offered load (% of the server\'s nominal capacity)</text>')
    out.append(f'<text transform="translate(16,{(ly0 + ly1) / 2}) rotate(-90)" '
               f'text-anchor="middle" font-size="12">{ylabel}</text>')
    for k, pts in series.items():
        pts = sorted(pts, key=lambda p: p["load_pct"])
        d = " ".join(f"{X(p['load_pct']):.1f},{Y(p[field] * scale):.1f}" for p in pts)
        out.append(f'<polyline points="{d}" fill="none" stroke="{color(k)}" '
                   f'stroke-width="2"{dash(k)}/>')
        for p in pts:
            out.append(f'<circle cx="{X(p["load_pct"]):.1f}" cy="{Y(p[field] * scale):.1f}" r="2.5" '
                       f'fill="{color(k)}"/>')
    out.append("</g>")
    return out


def main():
    src, dst = sys.argv[1], sys.argv[2]
    points = [json.loads(line) for line in open(src) if line.strip()]
    series = {}
    for p in points:
        series.setdefault(key(p), []).append(p)
    order = [k for k in COLORS if k in series] + [f"linux-{k}" for k in COLORS
                                                  if f"linux-{k}" in series]
    order += [k for k in series if k not in order]
    series = {k: series[k] for k in order}
    rows = (len(series) + 3) // 4
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H + 22 + 18 * rows}" '
           'font-family="sans-serif">', '<rect width="100%" height="100%" fill="white"/>']
    sd = [p["p99_slowdown_x100"] / 100 for p in points] or [1]
    lat = [p["p999_ns"] / 1000 for p in points] or [1]
    svg += panel(0, "p99 slowdown (latency / work)", "slowdown", series, "p99_slowdown_x100",
                 0.01, 1, 10 ** math.ceil(math.log10(max(sd + [10]))), hline=10)
    svg += panel(W, "p99.9 latency", "microseconds", series, "p999_ns", 0.001,
                 10 ** math.floor(math.log10(max(min(lat), 0.1))),
                 10 ** math.ceil(math.log10(max(lat))))
    for i, k in enumerate(series):
        x, y = 40 + 225 * (i % 4), H + 12 + 18 * (i // 4)
        svg.append(f'<line x1="{x}" x2="{x + 22}" y1="{y}" y2="{y}" stroke="{color(k)}" '
                   f'stroke-width="3"{dash(k)}/>')
        svg.append(f'<text x="{x + 28}" y="{y + 4}" font-size="12">{label(k)}</text>')
    n = points[0]["requests"] if points else 0
    svg.append(f'<text x="{W}" y="{H + 16 + 18 * rows}" text-anchor="middle" font-size="10" fill="#555">'
               f'Hallows, user-level scheduler (user/rt/usched.c; dashed: Linux 6.1 guest, lg_tail.c); bimodal 99.5% 0.5 us / 0.5% 500 us, '
               f'Poisson arrivals via a Hallows Ring from CPU 1; {n} requests per point; '
               'QEMU TCG -icount shift=0,sleep=off (1 instruction = 1 ns)</text>')
    svg.append("</svg>")
    open(dst, "w").write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
