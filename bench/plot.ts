/** A histogram of lateness samples (ms) as a small self-contained SVG: service bars, raw broker outline. */
export function latenessSvg(service: number[], raw: number[], title: string): string {
  const all = [...service, ...raw].sort((a, b) => a - b);
  const hi = Math.max(10, all[Math.floor(all.length * 0.999)] ?? 10);
  const lo = Math.min(0, all[0] ?? 0);
  // Whole-millisecond bins while the range allows (the data has millisecond resolution), else 60 bins.
  const width = Math.max(1, (hi - lo) / 60);
  const bins = Math.ceil((hi - lo) / width);
  const count = (xs: number[]) => {
    const h = new Array<number>(bins).fill(0);
    for (const x of xs) h[Math.min(bins - 1, Math.max(0, Math.floor((x - lo) / width)))]!++;
    return h.map((c) => c / Math.max(1, xs.length));
  };
  const hs = count(service);
  const hr = count(raw);
  const top = Math.max(...hs, ...hr, 0.001);
  const W = 720;
  const H = 320;
  const m = { l: 50, r: 20, t: 40, b: 50 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const x = (i: number) => m.l + (i / bins) * pw;
  const y = (f: number) => m.t + ph - (f / top) * ph;
  const bars = hs
    .map(
      (f, i) =>
        `<rect x="${x(i).toFixed(1)}" y="${y(f).toFixed(1)}" width="${(pw / bins - 1).toFixed(1)}" height="${(m.t + ph - y(f)).toFixed(1)}" fill="#4a7bd0"/>`,
    )
    .join('');
  const line = hr
    .map(
      (f, i) =>
        `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(f).toFixed(1)} L${x(i + 1).toFixed(1)},${y(f).toFixed(1)}`,
    )
    .join(' ');
  const ticks = Array.from({ length: 7 }, (_, k) => {
    const v = lo + ((hi - lo) * k) / 6;
    return `<text x="${(m.l + (k / 6) * pw).toFixed(1)}" y="${H - m.b + 18}" font-size="11" text-anchor="middle">${v.toFixed(0)}</text>`;
  }).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${m.l}" y="22" font-size="14">${title}</text>
${bars}
<path d="${line}" fill="none" stroke="#d0504a" stroke-width="1.5"/>
<line x1="${m.l}" y1="${m.t + ph}" x2="${m.l + pw}" y2="${m.t + ph}" stroke="black"/>
${ticks}
<text x="${m.l + pw / 2}" y="${H - 10}" font-size="12" text-anchor="middle">closed_at − expires_at (ms)</text>
<rect x="${W - 230}" y="${m.t}" width="12" height="12" fill="#4a7bd0"/><text x="${W - 212}" y="${m.t + 10}" font-size="11">service (share of orders)</text>
<line x1="${W - 230}" y1="${m.t + 24}" x2="${W - 218}" y2="${m.t + 24}" stroke="#d0504a" stroke-width="1.5"/><text x="${W - 212}" y="${m.t + 28}" font-size="11">raw TTL + dead-lettering</text>
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
