import type { Metadata } from "next";
import { Suspense } from "react";
import { NuqsAdapter } from "nuqs/adapters/next/app";
import { AnalyticsDashboard, DashboardSkeleton } from "@/components/AnalyticsDashboard";
import { BACKEND_HTTP_BASE } from "@/lib/config";
import { earlyScript } from "@/lib/early";

export const metadata: Metadata = { title: "Analytics" };

export default function AnalyticsPage() {
  return (
    <main id="main" data-page="analytics">
      <h1>Training analytics</h1>
      {/* Starts the first requests while the scripts load (lib/early.ts); the client takes their answers. */}
      <script dangerouslySetInnerHTML={{ __html: earlyScript(BACKEND_HTTP_BASE) }} />
      {/* The dashboard reads its state from the URL, known only in the browser for this static page. */}
      <NuqsAdapter>
        <Suspense fallback={<DashboardSkeleton />}>
          <AnalyticsDashboard />
        </Suspense>
      </NuqsAdapter>
    </main>
  );
}
