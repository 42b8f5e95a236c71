"use client";
/**
 * True once the element has come within `margin` of the viewport (and from then on), so work
 * below the fold (charts of every metric) waits until someone scrolls towards it. Without
 * IntersectionObserver (old browsers, jsdom) it is true at once.
 */
import { useEffect, useState, type RefObject } from "react";

export function useInView(ref: RefObject<Element | null>, margin = "300px"): boolean {
  const [seen, setSeen] = useState(() => typeof IntersectionObserver === "undefined");
  useEffect(() => {
    const el = ref.current;
    if (seen || !el || typeof IntersectionObserver === "undefined") return;
    const io = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          setSeen(true);
          io.disconnect();
        }
      },
      { rootMargin: margin },
    );
    io.observe(el);
    return () => io.disconnect();
  }, [ref, margin, seen]);
  return seen;
}
