// The GraphQL-over-HTTP audit of the graphql-http package against a running server:
//   node audit.mjs http://127.0.0.1:8000/graphql
// prints one JSON array: every audit's id, name, status (ok, error for a MUST,
// warn for a SHOULD, notice for a MAY) and reason.
import { auditServer } from "graphql-http";

const url = process.argv[2];
if (!url) {
  console.error("usage: node audit.mjs URL");
  process.exit(2);
}
const results = await auditServer({ url });
console.log(
  JSON.stringify(
    results.map(({ id, name, status, reason }) => ({ id, name, status, reason: reason ?? null })),
  ),
);
