/**
 * The report's charts: Vega-Lite specifications compiled to Vega and rendered to SVG
 * in Node (the headless 'none' renderer: no canvas, no browser).
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { ReportModel, Series } from './model.ts';

export interface Chart {
  name: 'series' | 'histogram' | 'timeline' | 'throughput';
  title: string;
  svg: string;
}

const WIDTH = 720;
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const CONFIG = {
  font: FONT,
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e5e7eb' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 240 },
};

const KIND_COLOURS = { domain: ['partial', 'cold start', 'straggler', 'cold start, straggler'], range: ['#4c78a8', '#72b7b2', '#e45756', '#b279a2'] };

/** Renders one Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export function histogramSpec(label: string, values: readonly number[]): vl.TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: 220,
    config: CONFIG,
    data: { values: values.map((v) => ({ v })) },
    mark: { type: 'bar', color: '#4c78a8', tooltip: true },
    encoding: {
      x: { field: 'v', type: 'quantitative', bin: { maxbins: 40 }, title: label },
      y: { aggregate: 'count', type: 'quantitative', title: 'count' },
    },
  };
}

/**
 * The result against frame, time, atom or r: a line (a step per atom for rmsf), with the
 * mean as a dashed rule labelled with its value when the result has one. Points that
 * are not finite (a frame of NaN coordinates) leave a gap.
 */
export function seriesSpec(series: Series): vl.TopLevelSpec {
  const values = series.x.values.map((x, i) => ({ x, y: Number.isFinite(series.y.values[i]) ? series.y.values[i]! : null }));
  // Frames and atoms are whole numbers: no tick at frame 0.2.
  const whole = series.x.values.every(Number.isInteger);
  const x = { field: 'x', type: 'quantitative' as const, title: series.x.title, scale: { zero: false, nice: false }, ...(whole ? { axis: { tickMinStep: 1, format: 'd' } } : {}) };
  const y = { field: 'y', type: 'quantitative' as const, title: series.y.title, scale: { zero: false } };
  const mean = series.mean;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: 260,
    config: CONFIG,
    ...(series.note ? { title: { text: series.note, fontSize: 11, fontWeight: 'normal' as const, color: '#92400e', anchor: 'start' as const } } : {}),
    layer: [
      {
        data: { values },
        mark: { type: 'line', color: '#4c78a8', strokeWidth: 1.2, interpolate: series.kind === 'step' ? 'step' : 'linear', ...(values.length <= 2000 ? { point: { size: 12 } } : {}) },
        encoding: { x, y },
      },
      ...(mean !== undefined && Number.isFinite(mean)
        ? [
            {
              data: { values: [{ y: mean, label: `mean ${Number(mean.toPrecision(6))}` }] },
              layer: [
                { mark: { type: 'rule' as const, color: '#f58518', strokeDash: [6, 3], strokeWidth: 2 }, encoding: { y: { field: 'y', type: 'quantitative' as const } } },
                {
                  mark: { type: 'text' as const, color: '#f58518', align: 'right' as const, dy: -6, x: WIDTH },
                  encoding: { y: { field: 'y', type: 'quantitative' as const }, text: { field: 'label', type: 'nominal' as const } },
                },
              ],
            },
          ]
        : []),
    ],
  };
}

function kindOf(r: { coldStart: boolean; straggler: boolean }): string {
  return r.coldStart && r.straggler ? 'cold start, straggler' : r.coldStart ? 'cold start' : r.straggler ? 'straggler' : 'partial';
}

/** Above this many workers, lanes are drawn as numbered rows without labels. */
const LABELLED_LANES = 60;

export function timelineSpec(model: ReportModel): vl.TopLevelSpec {
  const lane = new Map(model.workers.map((w, i) => [w, i]));
  const labelled = model.workers.length <= LABELLED_LANES;
  const values = model.rows.map((r) => ({
    slice: r.index,
    worker: r.worker,
    lane: lane.get(r.worker)!,
    laneEnd: lane.get(r.worker)! + 0.85,
    start: r.startMs / 1000,
    end: Math.max(r.endMs, r.startMs + 0.5) / 1000,
    ms: r.durationMs,
    kind: kindOf(r),
  }));
  // A nominal axis sorted by an explicit list compiles to one expression per entry,
  // which overflows the stack for a Lambda job's thousand environments: sort by a
  // field, and past a few dozen lanes use a numeric axis.
  const y = labelled
    ? { y: { field: 'worker', type: 'nominal' as const, sort: { field: 'lane', op: 'min' as const }, title: 'worker' } }
    : { y: { field: 'lane', type: 'quantitative' as const, title: `worker (${model.workers.length} lanes)`, scale: { domain: [0, model.workers.length], nice: false } }, y2: { field: 'laneEnd' } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: labelled ? { step: Math.max(10, Math.min(22, 360 / Math.max(1, model.workers.length))) } : 360,
    config: CONFIG,
    data: { values },
    mark: { type: 'bar', stroke: labelled ? 'white' : null, strokeWidth: 0.5, tooltip: true },
    encoding: {
      ...y,
      x: { field: 'start', type: 'quantitative', title: 'seconds since the first slice started' },
      x2: { field: 'end' },
      color: { field: 'kind', type: 'nominal', scale: KIND_COLOURS, title: null, legend: { orient: 'top' } },
    },
  };
}

export function throughputSpec(model: ReportModel): vl.TopLevelSpec {
  const mbps = (model.jobBytesPerSecond ?? 0) / 1e6;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: 200,
    config: CONFIG,
    layer: [
      {
        data: { values: model.rows.map((r) => ({ slice: r.index, next: r.index + r.slices, mbps: r.bytesPerSecond / 1e6, kind: kindOf(r) })) },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          x: { field: 'slice', type: 'quantitative', title: 'slice', scale: { domain: [0, Math.max(1, model.slices)], nice: false } },
          x2: { field: 'next' },
          y: { field: 'mbps', type: 'quantitative', title: 'MB/s per partial' },
          // Ranged x makes Vega-Lite lay the bar out horizontally: anchor it at zero explicitly.
          y2: { datum: 0 },
          color: { field: 'kind', type: 'nominal', scale: KIND_COLOURS, title: null, legend: { orient: 'top' } },
        },
      },
      ...(mbps > 0
        ? [
            {
              data: { values: [{ mbps, label: `job: ${mbps.toFixed(1)} MB/s` }] },
              layer: [
                { mark: { type: 'rule' as const, color: '#f58518', strokeDash: [6, 3], strokeWidth: 2 }, encoding: { y: { field: 'mbps', type: 'quantitative' as const } } },
                {
                  mark: { type: 'text' as const, color: '#f58518', align: 'right' as const, dy: -6, x: WIDTH },
                  encoding: { y: { field: 'mbps', type: 'quantitative' as const }, text: { field: 'label', type: 'nominal' as const } },
                },
              ],
            },
          ]
        : []),
    ],
  };
}

export async function renderCharts(model: ReportModel): Promise<Chart[]> {
  const charts: Chart[] = [];
  if (model.series && model.series.x.values.length > 0) {
    charts.push({ name: 'series', title: `${model.series.y.title} against ${model.series.x.title}`, svg: await renderSvg(seriesSpec(model.series)) });
  }
  if (model.histogram && model.histogram.values.length > 0) {
    charts.push({ name: 'histogram', title: `Histogram: ${model.histogram.label}`, svg: await renderSvg(histogramSpec(model.histogram.label, model.histogram.values)) });
  }
  if (model.rows.length > 0) {
    charts.push({ name: 'timeline', title: 'Timeline: one lane per worker, one bar per partial', svg: await renderSvg(timelineSpec(model)) });
    charts.push({ name: 'throughput', title: 'Throughput per partial', svg: await renderSvg(throughputSpec(model)) });
  }
  return charts;
}
