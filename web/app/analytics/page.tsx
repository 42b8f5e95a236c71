import type { Metadata } from "next";
import { AnalyticsDashboard } from "@/components/AnalyticsDashboard";

export const metadata: Metadata = { title: "Analytics" };

export default function AnalyticsPage() {
  return (
    <main id="main" data-page="analytics">
      <h1>Training analytics</h1>
      <AnalyticsDashboard />
    </main>
  );
}
