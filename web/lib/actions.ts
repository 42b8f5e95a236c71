/** The frozen action layout (docs/INTERFACES.md §3) and labels built from a view's names. */
import type { GameView } from "./types";

export const N_ACTIONS = 69;
export const WAIT = 0;
export const travelAction = (town: number) => 1 + town;
export const buyAction = (good: number, ten: boolean) => (ten ? 21 : 9) + good;
export const sellAction = (good: number, kind: "1" | "10" | "all") =>
  (kind === "1" ? 33 : kind === "10" ? 45 : 57) + good;

/** Label of every action in words, matching envjax.ACTION_LABELS. */
export function actionLabels(view: Pick<GameView, "towns" | "market">): string[] {
  const towns = [...view.towns].sort((a, b) => a.id - b.id).map((t) => t.name);
  const goods = [...view.market].sort((a, b) => a.good - b.good).map((g) => g.name);
  const labels: string[] = ["Wait"];
  towns.forEach((t) => labels.push(`Travel to ${t}`));
  goods.forEach((g) => labels.push(`Buy 1 ${g}`));
  goods.forEach((g) => labels.push(`Buy 10 ${g}`));
  goods.forEach((g) => labels.push(`Sell 1 ${g}`));
  goods.forEach((g) => labels.push(`Sell 10 ${g}`));
  goods.forEach((g) => labels.push(`Sell all ${g}`));
  return labels;
}

export function validSet(view: Pick<GameView, "valid_actions">): Set<number> {
  return new Set(view.valid_actions.map((a) => a.action));
}
