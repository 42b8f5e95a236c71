import type { Metadata } from "next";
import { Suspense } from "react";
import { NuqsAdapter } from "nuqs/adapters/next/app";
import { AnalyticsDashboard, DashboardSkeleton } from "@/components/AnalyticsDashboard";

export const metadata: Metadata = { title: "Analytics" };

export default function AnalyticsPage() {
  return (
    <main id="main" data-page="analytics">
      <h1>Training analytics</h1>
      {/* The dashboard reads its state from the URL, known only in the browser for this static page. */}
      <NuqsAdapter>
        <Suspense fallback={<DashboardSkeleton />}>
          <AnalyticsDashboard />
        </Suspense>
      </NuqsAdapter>
    </main>
  );
}
