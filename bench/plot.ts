/** One distribution of {@link latenessSvg}. */
export interface LatenessSeries {
  name: string;
  color: string;
  /** Lateness of each order (ms); negative: closed early. */
  samples: number[];
}

/**
 * Lateness distributions as a self-contained SVG: for each series, the share of orders closed within x ms of their
 * deadline (a cumulative curve), x on a log axis so that milliseconds and seconds both show. Samples under 1 ms
 * (early ones included) count at 1 ms.
 */
export function latenessSvg(series: readonly LatenessSeries[], title: string): string {
  const W = 720;
  const H = 340;
  const m = { l: 50, r: 20, t: 40, b: 50 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const hi = series.reduce((m, s) => s.samples.reduce((a, b) => Math.max(a, b), m), 10);
  const decades = Math.ceil(Math.log10(hi));
  const x = (ms: number) => m.l + (Math.log10(Math.max(1, ms)) / decades) * pw;
  const y = (share: number) => m.t + ph - share * ph;
  const curve = (s: LatenessSeries) => {
    const sorted = [...s.samples].sort((a, b) => a - b);
    const step = Math.max(1, Math.floor(sorted.length / 400));
    const points: string[] = [];
    for (let i = 0; i < sorted.length; i += step)
      points.push(`${x(sorted[i]!).toFixed(1)},${y((i + 1) / sorted.length).toFixed(1)}`);
    points.push(`${x(sorted.at(-1) ?? 1).toFixed(1)},${y(1).toFixed(1)}`);
    return `<polyline points="${points.join(' ')}" fill="none" stroke="${s.color}" stroke-width="1.8"/>`;
  };
  const ticks = Array.from({ length: decades + 1 }, (_, k) => {
    const v = 10 ** k;
    const label = v >= 1000 ? `${v / 1000} s` : `${v} ms`;
    return `<line x1="${x(v).toFixed(1)}" y1="${m.t}" x2="${x(v).toFixed(1)}" y2="${m.t + ph}" stroke="#ddd"/><text x="${x(v).toFixed(1)}" y="${H - m.b + 18}" font-size="11" text-anchor="middle">${label}</text>`;
  }).join('');
  const shares = [0, 0.5, 0.99]
    .map(
      (f) =>
        `<line x1="${m.l}" y1="${y(f).toFixed(1)}" x2="${m.l + pw}" y2="${y(f).toFixed(1)}" stroke="#eee"/><text x="${m.l - 6}" y="${(y(f) + 4).toFixed(1)}" font-size="11" text-anchor="end">${f * 100}%</text>`,
    )
    .join('');
  const legend = series
    .map(
      (s, k) =>
        `<line x1="${m.l + 10}" y1="${m.t + 12 + k * 16}" x2="${m.l + 26}" y2="${m.t + 12 + k * 16}" stroke="${s.color}" stroke-width="2"/><text x="${m.l + 32}" y="${m.t + 16 + k * 16}" font-size="11">${s.name} (${s.samples.length} orders)</text>`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${m.l}" y="22" font-size="14">${title}</text>
${ticks}
${shares}
${series.map(curve).join('\n')}
<line x1="${m.l}" y1="${m.t + ph}" x2="${m.l + pw}" y2="${m.t + ph}" stroke="black"/>
<text x="${m.l + pw / 2}" y="${H - 10}" font-size="12" text-anchor="middle">closed within x of the deadline (closed_at − expires_at, log scale; share of orders)</text>
${legend}
</svg>
`;
}

/** One curve of {@link timeSeriesSvg}: samples `[seconds since start, value]` in its own unit. */
export interface Series {
  name: string;
  unit: string;
  points: [number, number][];
}

/** Curves over time as a self-contained SVG, one panel per series (their units differ), sharing the time axis. */
export function timeSeriesSvg(series: Series[], title: string): string {
  const W = 760;
  const panelH = 120;
  const m = { l: 70, r: 20, t: 40, gap: 30, b: 40 };
  const pw = W - m.l - m.r;
  const H = m.t + series.length * (panelH + m.gap) + m.b;
  const tMax = Math.max(1, ...series.flatMap((s) => s.points.map(([t]) => t)));
  const x = (t: number) => m.l + (t / tMax) * pw;
  const panels = series.map((s, k) => {
    const top = m.t + k * (panelH + m.gap);
    const vMax = Math.max(1e-9, ...s.points.map(([, v]) => v)) * 1.1;
    const y = (v: number) => top + panelH - (v / vMax) * panelH;
    const path = s.points.map(([t, v], i) => `${i === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v.toPrecision(3));
    return `<text x="${m.l}" y="${top - 6}" font-size="12">${s.name} (${s.unit})</text>
<line x1="${m.l}" y1="${top + panelH}" x2="${m.l + pw}" y2="${top + panelH}" stroke="#999"/>
<line x1="${m.l}" y1="${top}" x2="${m.l}" y2="${top + panelH}" stroke="#999"/>
<text x="${m.l - 6}" y="${top + 10}" font-size="10" text-anchor="end">${fmt(vMax)}</text>
<text x="${m.l - 6}" y="${top + panelH}" font-size="10" text-anchor="end">0</text>
<path d="${path}" fill="none" stroke="#4a7bd0" stroke-width="1.5"/>`;
  });
  const ticks = Array.from({ length: 7 }, (_, k) => {
    const t = (tMax * k) / 6;
    return `<text x="${x(t).toFixed(1)}" y="${H - m.b + 16}" font-size="11" text-anchor="middle">${(t / 60).toFixed(1)}</text>`;
  }).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${m.l}" y="20" font-size="14">${title}</text>
${panels.join('\n')}
${ticks}
<text x="${m.l + pw / 2}" y="${H - 8}" font-size="12" text-anchor="middle">minutes</text>
</svg>
`;
}
