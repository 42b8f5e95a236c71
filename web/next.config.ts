import type { NextConfig } from "next";

// Only NEXT_PUBLIC_BACKEND_* reach the browser bundle; nothing else from the environment is
// referenced in client code, so secrets in the build environment (WANDB_API_KEY) stay out.
const nextConfig: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  productionBrowserSourceMaps: false,
};

export default nextConfig;
