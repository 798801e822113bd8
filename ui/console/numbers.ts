// The numbers page's charts: one uPlot chart above each table, drawn from the numbers the
// server wrote into the page as JSON (<script type="application/json" id="numbers-data">).
// The tables stay the accessible, printable, downloadable form; a chart is a picture of its
// table (role="img" with a label that says so). By day: lines over the days. By courier or
// postcode area: bars. Each chart shows the table's columns of one unit — its shares (percent)
// if it has any, else its times (seconds), else its counts (at most six).

import type uPlotType from 'uplot';

interface Column { name: string; label: string; unit: 'count' | 'percent' | 'seconds' }
interface Row { key: string; values: (number | null)[] }
interface NumbersTable { id: string; title: string; columns: Column[]; rows: Row[] }
interface Numbers { by: 'day' | 'courier' | 'area'; from: string; to: string; tables: NumbersTable[] }

const COLOURS = ['#0b5cad', '#1a7f37', '#b3261e', '#6f42c1', '#9a4b00', '#57606a'];
const HEIGHT = 220;

const data = document.getElementById('numbers-data');
if (data?.textContent) {
  const numbers = JSON.parse(data.textContent) as Numbers;
  const charts: { plot: uPlotType; box: HTMLElement }[] = [];
  for (const table of numbers.tables) {
    const box = document.querySelector<HTMLElement>(`[data-chart="${CSS.escape(table.id)}"]`);
    if (!box || table.rows.length === 0) continue;
    const plot = chart(box, table, numbers.by);
    if (plot) charts.push({ plot, box });
  }
  let pending = 0;
  window.addEventListener('resize', () => {
    window.cancelAnimationFrame(pending);
    pending = window.requestAnimationFrame(() => {
      for (const { plot, box } of charts) plot.setSize({ width: box.clientWidth, height: HEIGHT });
    });
  });
}

/** The columns a chart of `table` shows: those of its first unit among percent, seconds, count. */
function shown(table: NumbersTable): number[] {
  for (const unit of ['percent', 'seconds', 'count'] as const) {
    const cols = table.columns.flatMap((c, i) => (c.unit === unit ? [i] : []));
    if (cols.length) return cols.slice(0, 6);
  }
  return [];
}

function chart(box: HTMLElement, table: NumbersTable, by: Numbers['by']): uPlotType | undefined {
  const cols = shown(table);
  if (!cols.length) return undefined;
  const unit = table.columns[cols[0] ?? 0]?.unit ?? 'count';
  const days = by === 'day';
  const xs = table.rows.map((r, i) => (days ? Date.parse(`${r.key}T12:00:00Z`) / 1000 : i));
  const series: uPlotType.Series[] = [{ label: days ? 'day' : by }];
  const ys: (number | null)[][] = [];
  cols.forEach((c, n) => {
    const column = table.columns[c];
    if (!column) return;
    const colour = COLOURS[n % COLOURS.length] ?? '#0b5cad';
    series.push({
      label: column.label,
      stroke: colour,
      width: 2,
      fill: days ? undefined : `${colour}cc`,
      points: { show: days && table.rows.length < 40 },
      paths: days ? undefined : uPlot.paths.bars?.({ size: [0.8 / cols.length, 40], align: 0 }),
      value: (_u, v) => (v == null ? '—' : format(v, unit)),
    });
    ys.push(table.rows.map((r) => r.values[c] ?? null));
  });
  box.setAttribute('role', 'img');
  box.setAttribute('aria-label', `Chart of ${table.title}; the table below has its numbers.`);
  const keys = table.rows.map((r) => r.key);
  return new uPlot(
    {
      width: box.clientWidth || 600,
      height: HEIGHT,
      series,
      // Categories (couriers, areas) sit at 0, 1, 2, … with half a step of room either side.
      scales: { x: days ? { time: true } : { time: false, range: [-0.5, keys.length - 0.5] } },
      axes: [
        days
          ? {}
          : {
              splits: () => keys.map((_, i) => i),
              values: (_u, splits) => splits.map((i) => keys[Math.round(i)] ?? ''),
            },
        { values: (_u, splits) => splits.map((v) => format(v, unit)), size: 60 },
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    },
    [xs, ...ys] as uPlotType.AlignedData,
    box,
  );
}

/** A value as its table writes it: 12 %, 3 min 20 s, 1,234. */
function format(v: number, unit: Column['unit']): string {
  if (unit === 'percent') return `${Math.round(v * 10) / 10} %`;
  if (unit === 'seconds') {
    if (v < 60) return `${Math.round(v)} s`;
    if (v < 3600) return `${Math.floor(v / 60)} min`;
    return `${Math.round(v / 360) / 10} h`;
  }
  return Math.round(v).toLocaleString('en');
}
