/** The short real training run behind the e2e suite: tiny, but more than 10 windows. */
export const E2E_RUN_ID = "e2e-run";
export const E2E_WINDOWS = 12;

export function trainArgs(runsDir: string): string[] {
  return [
    "--run-dir", runsDir,
    "--run-id", E2E_RUN_ID,
    "--name", "e2e tiny run",
    "--wandb", "disabled",
    "--num-envs", "16",
    "--rollout-steps", "16",
    "--updates-per-window", "2",
    "--total-steps", String(16 * 16 * 2 * E2E_WINDOWS),
    "--eval-episodes", "16",
    "--hidden", "32",
    "--minibatches", "2",
    "--seed", "7",
  ];
}
