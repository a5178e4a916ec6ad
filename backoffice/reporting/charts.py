"""Small server-side SVG charts for the dashboard: no script, no CDN, nothing the CSP has to allow.

Colours are SVG presentation attributes, not style attributes (the CSP refuses inline styles).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

from ..domain.money import format_euro

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 70, 12, 16, 48
COLOURS = ("#0d6efd", "#20c997", "#fd7e14", "#dc3545", "#6f42c1")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Decimal | int]
    colour: str = ""


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover


def _axis_label(value: float, money: bool) -> str:
    if money:
        return format_euro(Decimal(int(value))).rsplit(",", 1)[0]
    return f"{int(value):,}".replace(",", ".")


def _frame(title: str, body: list[str], series: Sequence[Series], test_id: str) -> Markup:
    legend = []
    x = LEFT
    for item in series:
        legend.append(f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{item.colour}"/>'
                      f'<text x="{x + 14}" y="{HEIGHT - 5}" font-size="11">{escape(item.name)}</text>')
        x += 24 + 7 * len(item.name)
    return Markup(  # noqa: S704 - every text that goes in (names, labels, titles) is escaped
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" class="w-100 h-auto" data-testid="{escape(test_id)}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "".join(legend) + "</svg>"
    )


def _grid(top_value: float, money: bool) -> list[str]:
    plot_height = HEIGHT - TOP - BOTTOM
    lines = []
    for i in range(5):
        value = top_value * i / 4
        y = TOP + plot_height - plot_height * i / 4
        lines.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dee2e6"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="#6c757d">'
                     f"{escape(_axis_label(value, money))}</text>")
    return lines


def _coloured(series: Sequence[Series]) -> list[Series]:
    return [Series(s.name, s.values, s.colour or COLOURS[i % len(COLOURS)]) for i, s in enumerate(series)]


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], money: bool = True,
               test_id: str = "line-chart") -> Markup:
    series = _coloured(series)
    top_value = _nice_max(max((float(v) for s in series for v in s.values), default=0))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_width / max(len(labels) - 1, 1)
    body = _grid(top_value, money)
    for i, label in enumerate(labels):
        body.append(f'<text x="{LEFT + i * step:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="10" '
                    f'text-anchor="middle" fill="#6c757d">{escape(label)}</text>')
    for item in series:
        points = [(LEFT + i * step, TOP + plot_height - plot_height * float(v) / top_value)
                  for i, v in enumerate(item.values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="{item.colour}" stroke-width="2"/>')
        for (x, y), value in zip(points, item.values, strict=True):
            shown = format_euro(Decimal(value)) if money else str(value)
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{item.colour}">'
                        f"<title>{escape(item.name)}: {escape(shown)}</title></circle>")
    return _frame(title, body, series, test_id)


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series], money: bool = True,
              test_id: str = "bar-chart") -> Markup:
    series = _coloured(series)
    top_value = _nice_max(max((float(v) for s in series for v in s.values), default=0))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group = plot_width / max(len(labels), 1)
    bar = group * 0.8 / max(len(series), 1)
    body = _grid(top_value, money)
    for i, label in enumerate(labels):
        body.append(f'<text x="{LEFT + group * (i + 0.5):.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="10" '
                    f'text-anchor="middle" fill="#6c757d">{escape(label[:18])}</text>')
        for j, item in enumerate(series):
            value = float(item.values[i])
            height = plot_height * value / top_value
            x = LEFT + group * i + group * 0.1 + bar * j
            shown = format_euro(Decimal(item.values[i])) if money else str(item.values[i])
            body.append(f'<rect x="{x:.1f}" y="{TOP + plot_height - height:.1f}" width="{bar:.1f}" '
                        f'height="{height:.1f}" fill="{item.colour}"><title>{escape(label)}, {escape(item.name)}: '
                        f"{escape(shown)}</title></rect>")
    return _frame(title, body, series, test_id)
