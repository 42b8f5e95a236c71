import type { Metadata, Viewport } from "next";
import Link from "next/link";
import type { ReactNode } from "react";
import "uplot/dist/uPlot.min.css";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Caravan", template: "%s · Caravan" },
  description: "Caravan: an open JAX reinforcement-learning stack for one economic-survival game.",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1, themeColor: "#1e3a8a" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="site-header">
          <Link href="/" className="brand">
            Caravan
          </Link>
          <nav aria-label="Main">
            <Link href="/analytics">Analytics</Link>
            <Link href="/play">Play</Link>
          </nav>
        </header>
        {children}
        <footer className="site-footer">Caravan · open JAX RL stack · data from the analytics service</footer>
      </body>
    </html>
  );
}
