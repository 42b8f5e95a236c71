"use client";
/**
 * True once React has hydrated this tree on the client (false in the server HTML and during
 * hydration). Server-rendered controls are disabled until then: a click or a submit on HTML
 * that React does not handle yet would be lost (or, for a form, reload the page).
 */
import { useSyncExternalStore } from "react";

const noop = () => () => {};

export function useHydrated(): boolean {
  return useSyncExternalStore(
    noop,
    () => true,
    () => false,
  );
}
