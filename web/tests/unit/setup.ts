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
  class FakePlot {
    width: number;
    rec: { opts: unknown; data: unknown[]; redraws: number };
    constructor(opts: { width: number }, data: unknown[]) {
      this.width = opts.width;
      this.rec = { opts, data, redraws: 0 };
      ((globalThis as unknown as { __plots: unknown[] }).__plots ??= []).push(this.rec);
    }
    over = document.createElement("div");
    bbox = { left: 0, top: 0, width: 600, height: 300 };
    redraw() {
      this.rec.redraws += 1;
    }
    setData(data: unknown[]) {
      this.rec.data = data;
    }
    valToPos(v: number) {
      return v;
    }
    setSize() {}
    setSeries() {}
    setScale() {}
    destroy() {}
  }
  return { default: FakePlot };
});
