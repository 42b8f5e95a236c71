/** uPlot instances created by the stub in setup.ts (newest last). */
export interface PlotRecord {
  opts: { series: { label?: string }[] };
  data: (number | null)[][];
  redraws: number;
}
export function plots(): PlotRecord[] {
  return ((globalThis as unknown as { __plots?: PlotRecord[] }).__plots ??= []);
}
export function resetPlots(): void {
  (globalThis as unknown as { __plots: PlotRecord[] }).__plots = [];
}
