// axe-core over a page in Chromium, shared by the server's browser tests (the fleet console and
// the customer's page).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const axeSource = readFileSync(
  createRequire(new URL('../../ui/package.json', import.meta.url)).resolve('axe-core/axe.min.js'),
  'utf8',
);

/**
 * Runs axe over the page: the WCAG 2.0 and 2.1 A and AA rules and axe's best practices. Returns
 * every violation in words. axe goes in through the DevTools protocol (page.evaluate), which the
 * page's Content-Security-Policy does not govern, so the page keeps its CSP.
 */
export async function axeViolations(page, where) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const { violations, ran } = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    return {
      violations: r.violations.map((v) => ({
        rule: v.id,
        help: v.help,
        nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`),
      })),
      ran: [...r.passes, ...r.violations].map((v) => v.id),
    };
  });
  assert.ok(ran.includes('color-contrast'), `${where}: axe checked no text contrast`);
  return violations.map((v) => `${where}: ${v.rule} (${v.help}): ${v.nodes.join('; ')}`);
}
