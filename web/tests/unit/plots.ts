/** uPlot instances created by the stub in setup.ts (newest last). */
export interface PlotRecord {
  opts: { series: { label?: string }[] };
  data: (number | null)[][];
  redraws: number;
  /** The stub instance: its x scale, and setScale as a drag-zoom calls it. */
  plot: { scales: { x: { min: number | null; max: number | null } }; setScale: (key: string, s: { min: number; max: number }) => void };
}
export function plots(): PlotRecord[] {
  return ((globalThis as unknown as { __plots?: PlotRecord[] }).__plots ??= []);
}
export function resetPlots(): void {
  (globalThis as unknown as { __plots: PlotRecord[] }).__plots = [];
}
