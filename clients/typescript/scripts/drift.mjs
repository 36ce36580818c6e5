// Fails when src/gen/api.ts is not what openapi-typescript makes of
// api/openapi.yaml today: the checked-in types must not drift from the
// spec. Fix with `npm run generate` and commit the result. Arguments
// (for the tests): another spec, another generated file.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const spec = process.argv[2] ?? join(pkg, "..", "..", "api", "openapi.yaml");
const generated = process.argv[3] ?? join(pkg, "src", "gen", "api.ts");
const tmp = mkdtempSync(join(tmpdir(), "agenttrust-drift-"));
try {
  const out = join(tmp, "api.ts");
  const cli = join(pkg, "node_modules", "openapi-typescript", "bin", "cli.js");
  execFileSync(process.execPath, [cli, spec, "-o", out], { cwd: pkg, stdio: ["ignore", "ignore", "inherit"] });
  const want = readFileSync(out, "utf8").split("\n");
  const have = readFileSync(generated, "utf8").split("\n");
  const at = want.findIndex((l, i) => l !== have[i]);
  if (at >= 0 || want.length !== have.length) {
    const i = at >= 0 ? at : Math.min(want.length, have.length);
    console.error(`src/gen/api.ts drifted from api/openapi.yaml at line ${i + 1}:`);
    console.error(`  checked in:  ${JSON.stringify(have[i] ?? "<end of file>")}`);
    console.error(`  regenerated: ${JSON.stringify(want[i] ?? "<end of file>")}`);
    console.error("run `npm run generate` in clients/typescript and commit src/gen/api.ts");
    process.exit(1);
  }
  console.log(`src/gen/api.ts matches api/openapi.yaml (${have.length} lines)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
