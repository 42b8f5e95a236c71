/** The checked-in OpenAPI schema and the types generated from it match the live service. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { env, expect, test, testFetch } from "./fixtures";

test("checked-in API types match the live service's OpenAPI schema", async () => {
  // @ts-expect-error: plain ESM script without type declarations
  const gen = (await import("../../scripts/gen-api-types.mjs")) as {
    schemaText: (s: unknown) => string;
    typesText: (s: unknown) => Promise<string>;
  };
  const live = await (await testFetch(`${env("E2E_API_BASE")}/openapi.json`)).json();
  const lib = path.resolve(__dirname, "../../lib");
  const canon = (o: unknown) => JSON.parse(JSON.stringify(o, (_k, v) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v)));
  expect(canon(JSON.parse(readFileSync(path.join(lib, "openapi.json"), "utf8")))).toEqual(canon(live));
  expect(readFileSync(path.join(lib, "api-schema.d.ts"), "utf8")).toBe(await gen.typesText(live));
});
