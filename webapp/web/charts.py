"""Small server-side SVG charts for the admin dashboard: no JavaScript, no CDN, works offline.

Each function takes plain numbers and returns one ``<svg>`` element as Markup (labels escaped),
with a <title> and <desc> for screen readers. Only what the dashboard draws: stacked bars over
time, overlaid histograms with threshold markers, horizontal bars, and points in DET space.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

# Colour-blind-safe palette (Okabe-Ito), first for "granted".
PALETTE = ("#009e73", "#d55e00", "#0072b2", "#e69f00", "#cc79a7", "#56b4e9", "#f0e442", "#000000", "#999999")
_W, _H = 640, 260
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 48, 12, 12, 56


def _svg(title: str, desc: str, body: list[str], height: int = _H, legend: Sequence[tuple[str, str]] = ()) -> Markup:
    items = []
    x, row = _PAD_L, 0
    for label, colour in legend:
        width = 24 + 6 * len(label)
        if x + width > _W and x > _PAD_L:  # wrap onto a new legend row
            x, row = _PAD_L, row + 1
        y = height - 14 + 16 * row
        items.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{colour}"/>')
        items.append(f'<text x="{x + 14}" y="{y + 9}" class="legend">{escape(label)}</text>')
        x += width
    height += 16 * row
    return Markup(
        f'<svg class="chart" viewBox="0 0 {_W} {height}" role="img" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>" + "".join(body) + "".join(items) + "</svg>"
    )


def nice_max(count: float, ticks: int = 4) -> float:
    """A count axis's top: the next multiple of ``ticks`` (whole-number ticks)."""
    return float(max(ticks, -(-int(count) // ticks) * ticks))


def _axes(height: int, y_max: float, y_label: str, ticks: int = 4) -> list[str]:
    bottom = height - _PAD_B
    out = [f'<line x1="{_PAD_L}" y1="{bottom}" x2="{_W - _PAD_R}" y2="{bottom}" class="axis"/>']
    for i in range(ticks + 1):
        value = y_max * i / ticks
        y = bottom - (bottom - _PAD_T) * i / ticks
        out.append(f'<line x1="{_PAD_L}" y1="{y:.1f}" x2="{_W - _PAD_R}" y2="{y:.1f}" class="grid"/>')
        text = f"{value:.0f}" if y_max >= ticks else f"{value:.2g}"
        out.append(f'<text x="{_PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{text}</text>')
    mid = f"{_PAD_T + (bottom - _PAD_T) / 2:.0f}"
    out.append(f'<text x="12" y="{mid}" class="label" transform="rotate(-90 12 {mid})" text-anchor="middle">{escape(y_label)}</text>')
    return out


def stacked_bars(
    title: str, categories: Sequence[str], series: Mapping[str, Sequence[int]], colours: Mapping[str, str] | None = None
) -> Markup:
    """One bar per category (a time bucket), stacked by series (decision and reason)."""
    colours = colours or {}
    totals = [sum(s[i] for s in series.values()) for i in range(len(categories))]
    y_max = nice_max(max([*totals, 1]))
    bottom = _H - _PAD_B
    width = (_W - _PAD_L - _PAD_R) / max(1, len(categories))
    body = _axes(_H, y_max, "attempts")
    legend = []
    for k, name in enumerate(series):
        legend.append((name, colours.get(name, PALETTE[k % len(PALETTE)])))
    base = [0.0] * len(categories)
    for name, colour in legend:
        for i, v in enumerate(series[name]):
            if not v:
                continue
            h = (bottom - _PAD_T) * v / y_max
            y = bottom - (bottom - _PAD_T) * base[i] / y_max - h
            body.append(
                f'<rect x="{_PAD_L + i * width + 1:.1f}" y="{y:.1f}" width="{max(1.0, width - 2):.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(categories[i])}: {v} {escape(name)}</title></rect>"
            )
            base[i] += v
    step = max(1, len(categories) // 8)
    for i in range(0, len(categories), step):
        body.append(
            f'<text x="{_PAD_L + (i + 0.5) * width:.1f}" y="{bottom + 14}" text-anchor="middle" class="tick">{escape(categories[i])}</text>'
        )
    desc = "; ".join(f"{c}: {t}" for c, t in zip(categories, totals, strict=True) if t) or "no attempts"
    return _svg(title, desc, body, legend=legend)


def histograms(
    title: str,
    groups: Mapping[str, Sequence[float]],
    low: float,
    high: float,
    bins: int,
    markers: Sequence[tuple[float, str]],
    x_label: str,
) -> Markup:
    """Overlaid histograms (outlined steps) of a few groups, with vertical marker lines."""
    edges = [low + (high - low) * i / bins for i in range(bins + 1)]
    counts: dict[str, list[int]] = {}
    for name, values in groups.items():
        c = [0] * bins
        for v in values:
            i = min(bins - 1, max(0, int((v - low) / (high - low) * bins)))
            c[i] += 1
        counts[name] = c
    y_max = nice_max(max([1, *(max(c) for c in counts.values())]))
    bottom = _H - _PAD_B
    x_of = lambda v: _PAD_L + (_W - _PAD_L - _PAD_R) * (v - low) / (high - low)  # noqa: E731
    body = _axes(_H, y_max, "attempts")
    legend = []
    for k, (name, c) in enumerate(counts.items()):
        colour = PALETTE[k % len(PALETTE)]
        legend.append((f"{name} ({len(groups[name])})", colour))
        pts = [f"{x_of(low):.1f},{bottom}"]
        for i, n in enumerate(c):
            y = bottom - (bottom - _PAD_T) * n / y_max
            pts += [f"{x_of(edges[i]):.1f},{y:.1f}", f"{x_of(edges[i + 1]):.1f},{y:.1f}"]
        pts.append(f"{x_of(high):.1f},{bottom}")
        body.append(f'<polyline points="{" ".join(pts)}" fill="{colour}" fill-opacity="0.25" stroke="{colour}" stroke-width="2"/>')
    for k, (value, label) in enumerate(markers):
        x = x_of(min(high, max(low, value)))
        body.append(f'<line x1="{x:.1f}" y1="{_PAD_T}" x2="{x:.1f}" y2="{bottom}" class="marker"/>')
        # Successive labels step down, so markers close together stay readable.
        body.append(f'<text x="{x + 3:.1f}" y="{_PAD_T + 10 + 12 * k}" class="marker-label">{escape(label)} {value:g}</text>')
    for i in range(0, bins + 1, max(1, bins // 5)):
        body.append(f'<text x="{x_of(edges[i]):.1f}" y="{bottom + 14}" text-anchor="middle" class="tick">{edges[i]:.2g}</text>')
    body.append(f'<text x="{(_PAD_L + _W - _PAD_R) / 2:.0f}" y="{bottom + 30}" text-anchor="middle" class="label">{escape(x_label)}</text>')
    desc = "; ".join(f"{name}: {len(v)} values" for name, v in groups.items())
    return _svg(title, desc, body, legend=legend)


def horizontal_bars(title: str, rows: Sequence[tuple[str, float, str]], high: float, marker: tuple[float, str] | None = None) -> Markup:
    """One bar per row (label, value, note shown after the bar), 0..high, with an optional marker."""
    row_h = 22
    height = _PAD_T + row_h * max(1, len(rows)) + 30
    left = 150
    span = _W - left - 90
    body = []
    for i, (label, value, note) in enumerate(rows):
        y = _PAD_T + i * row_h
        w = span * max(0.0, min(value, high)) / high
        body.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" class="tick">{escape(label)}</text>')
        tip = f"<title>{escape(label)}: {value:.2f}</title>"
        body.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{PALETTE[2]}">{tip}</rect>')
        body.append(f'<text x="{left + w + 4:.1f}" y="{y + 15}" class="tick">{escape(note)}</text>')
    if not rows:
        body.append(f'<text x="{left}" y="{_PAD_T + 15}" class="tick">no enrolled faces</text>')
    if marker is not None:
        x = left + span * marker[0] / high
        bottom = _PAD_T + row_h * max(1, len(rows))
        body.append(f'<line x1="{x:.1f}" y1="{_PAD_T}" x2="{x:.1f}" y2="{bottom}" class="marker"/>')
        body.append(f'<text x="{x + 3:.1f}" y="{bottom + 14}" class="marker-label">{escape(marker[1])}</text>')
    desc = "; ".join(f"{label}: {value:.2f} {note}" for label, value, note in rows) or "no data"
    return _svg(title, desc, body, height=height)


def det_points(title: str, curves: Mapping[str, Sequence[tuple[float, float]]], points: Sequence[tuple[str, float, float]]) -> Markup:
    """DET space (APCER on x, BPCER on y, 0..1): curves as lines, operating points as dots."""
    bottom = _H - _PAD_B
    span_x, span_y = _W - _PAD_L - _PAD_R, bottom - _PAD_T
    x_of = lambda v: _PAD_L + span_x * v  # noqa: E731
    y_of = lambda v: bottom - span_y * v  # noqa: E731
    body = _axes(_H, 1.0, "BPCER")
    legend = []
    for k, (name, pts) in enumerate(curves.items()):
        colour = PALETTE[(k + 2) % len(PALETTE)]
        legend.append((name, colour))
        path = " ".join(f"{x_of(a):.1f},{y_of(b):.1f}" for a, b in pts)
        body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
    for k, (name, apcer, bpcer) in enumerate(points):
        colour = PALETTE[k % len(PALETTE)]
        tip = f"<title>{escape(name)}: APCER {apcer:.3f}, BPCER {bpcer:.3f}</title>"
        body.append(f'<circle cx="{x_of(apcer):.1f}" cy="{y_of(bpcer):.1f}" r="5" fill="{colour}">{tip}</circle>')
        legend.append((name, colour))
    for i in range(6):
        body.append(f'<text x="{x_of(i / 5):.1f}" y="{bottom + 14}" text-anchor="middle" class="tick">{i / 5:.1f}</text>')
    body.append(
        f'<text x="{(_PAD_L + _W - _PAD_R) / 2:.0f}" y="{bottom + 30}" text-anchor="middle" class="label">APCER (attacks accepted)</text>'
    )
    desc = "; ".join(f"{n}: APCER {a:.3f}, BPCER {b:.3f}" for n, a, b in points) or "no operating points"
    return _svg(title, desc, body, legend=legend)
