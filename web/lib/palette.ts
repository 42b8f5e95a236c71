/** One colour per meaning across every chart (colour-blind-safe Okabe–Ito hues). */
export const COLORS = {
  eval: "#0072B2",
  train: "#E69F00",
  sps: "#009E73",
  policy: "#0072B2",
  value: "#D55E00",
  entropy: "#009E73",
  kl: "#CC79A7",
  clip: "#E69F00",
  grad: "#56B4E9",
  highlight: "#C2185B",
  wait: "#999999",
  travel: "#56B4E9",
  buy: "#009E73",
  sell: "#E69F00",
} as const;

/** The same colour with alpha, for the faint raw line behind a smoothed one. */
export function faint(hex: string, alpha = 0.28): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** One colour per compared run, in selection order (Okabe–Ito, then Tol's muted extras). */
export const RUN_COLORS = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#CC79A7",
  "#D55E00",
  "#56B4E9",
  "#882255",
  "#117733",
  "#332288",
  "#999933",
] as const;

export function runColor(i: number): string {
  return RUN_COLORS[i % RUN_COLORS.length];
}
