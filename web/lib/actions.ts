/** The frozen action layout (docs/INTERFACES.md §3) and labels built from a view's names.
 * Offsets, kinds and label patterns come from action-layout.json, generated from
 * envjax.constants.ACTION_GROUPS (`python -m tools.gen_action_layout`; a test checks it). */
import layout from "./action-layout.json";
import type { GameView } from "./types";

type Group = (typeof layout.groups)[number];

function group(name: string): Group {
  const g = layout.groups.find((x) => x.name === name);
  if (!g) throw new Error(`action group ${name} missing from action-layout.json`);
  return g;
}

export const N_ACTIONS: number = layout.n_actions;
/** The eval action-mix kinds, in the game's order (wait, travel, buy, sell). */
export const ACTION_KINDS: readonly string[] = layout.kinds;
export const WAIT = group("wait").first;
export const travelAction = (town: number) => group("travel").first + town;
export const buyAction = (good: number, ten: boolean) => group(ten ? "buy10" : "buy1").first + good;
export const sellAction = (good: number, kind: "1" | "10" | "all") =>
  group(kind === "1" ? "sell1" : kind === "10" ? "sell10" : "sellall").first + good;

/** Label of every action in words, matching envjax.ACTION_LABELS. */
export function actionLabels(view: Pick<GameView, "towns" | "market">): string[] {
  const towns = [...view.towns].sort((a, b) => a.id - b.id).map((t) => t.name);
  const goods = [...view.market].sort((a, b) => a.good - b.good).map((g) => g.name);
  const labels: string[] = [];
  for (const g of layout.groups) {
    const names = g.name === "travel" ? towns : goods;
    for (let i = 0; i < g.size; i++) labels.push(g.label.replace("{}", names[i] ?? ""));
  }
  return labels;
}

export function validSet(view: Pick<GameView, "valid_actions">): Set<number> {
  return new Set(view.valid_actions.map((a) => a.action));
}
