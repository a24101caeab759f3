/**
 * The engine's cost per decision alone (bench/decision-cost.ts), without the servers and load of
 * npm run bench: `npm run build && node dist/bench/decision-cost-main.js`. Prints one row per
 * figure with the load average beside it, for runs alternated with another build on a shared machine.
 */
import { loadavg } from 'node:os';
import { decisionCost } from './decision-cost';

const rows = decisionCost();
const today = rows[0].micros;
console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
for (const row of rows) {
  const ratio = row.name.startsWith(' ') ? '' : ` (${(row.micros / today).toFixed(2)}×)`;
  console.log(`${row.micros.toFixed(1).padStart(8)} µs${ratio.padEnd(9)} ${row.name}`);
}
