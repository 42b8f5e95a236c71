import "@testing-library/jest-dom/vitest";
import { cleanup, configure } from "@testing-library/react";
import { afterEach, vi } from "vitest";

afterEach(() => cleanup());
// findBy/waitFor wait on a condition; on a loaded 2-core box a full dashboard render can take
// over the 1 s default, which would fail a correct page.
configure({ asyncUtilTimeout: 15_000 });

// jsdom has no ResizeObserver or canvas; charts are checked through a recording uPlot stub.
class RO {
  observe() {}
  unobserve() {}
  disconnect() {}
}
(globalThis as unknown as { ResizeObserver: typeof RO }).ResizeObserver = RO;

vi.mock("uplot", () => {
  type Hooks = { setScale?: ((u: unknown, key: string) => void)[] };
  class FakePlot {
    width: number;
    rec: { opts: unknown; data: unknown[]; redraws: number; plot: FakePlot };
    // uPlot's x scale: setData resets it to the data's range (unless told not to), setScale sets it; both run the setScale hooks.
    scales: { x: { min: number | null; max: number | null } } = { x: { min: null, max: null } };
    hooks: Hooks;
    data: unknown[];
    constructor(opts: { width: number; hooks?: Hooks }, data: unknown[]) {
      this.width = opts.width;
      this.hooks = opts.hooks ?? {};
      this.data = data;
      this.rec = { opts, data, redraws: 0, plot: this };
      ((globalThis as unknown as { __plots: unknown[] }).__plots ??= []).push(this.rec);
      this.fit(data);
    }
    private fit(data: unknown[]) {
      const xs = (data[0] ?? []) as number[];
      this.setScale("x", { min: xs.length ? xs[0] : null, max: xs.length ? xs[xs.length - 1] : null });
    }
    over = document.createElement("div");
    bbox = { left: 0, top: 0, width: 600, height: 300 };
    redraw() {
      this.rec.redraws += 1;
    }
    setData(data: unknown[], resetScales = true) {
      this.rec.data = data;
      this.data = data;
      if (resetScales) this.fit(data);
    }
    valToPos(v: number) {
      return v;
    }
    setSize() {}
    setSeries() {}
    setScale(key: string, s: { min: number | null; max: number | null }) {
      if (key !== "x") return;
      this.scales.x = { min: s.min, max: s.max };
      for (const h of this.hooks.setScale ?? []) h(this, key);
    }
    destroy() {}
  }
  return { default: FakePlot };
});
