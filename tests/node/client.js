// node-postgres against a server holding Chinook; prints one JSON object.
// Usage: node client.js HOST PORT DATABASE USER
const { Client } = require("pg");

async function main() {
  const [host, port, database, user] = process.argv.slice(2);
  const client = new Client({ host, port: Number(port), database, user, ssl: false });
  await client.connect();
  const out = {};
  const q = await client.query('SELECT "ArtistId", "Name" FROM "Artist" ORDER BY "ArtistId" LIMIT 3');
  out.query = { fields: q.fields.map((f) => [f.name, f.dataTypeID]), rows: q.rows, command: q.command, rowCount: q.rowCount };
  const p = await client.query('SELECT "TrackId", "Name", "UnitPrice", "Milliseconds" FROM "Track" WHERE "GenreId" = $1 AND "Milliseconds" > $2 ORDER BY "TrackId" LIMIT 5', [2, 300000]);
  out.param = { fields: p.fields.map((f) => [f.name, f.dataTypeID]), rows: p.rows, rowCount: p.rowCount };
  // a named (server-side) prepared statement, executed several times
  out.named = [];
  for (const id of [1, 2, 3, 4, 5, 6, 7]) {
    const r = await client.query({ name: "track-by-id", text: 'SELECT "Name" FROM "Track" WHERE "TrackId" = $1', values: [id] });
    out.named.push(r.rows[0].Name);
  }
  const t = await client.query("SELECT $1::text AS s, $2::int AS i, true AS b, NULL::text AS n", ["héllo 'x'", 42]);
  out.types = t.rows[0];
  try {
    await client.query('SELECT "Nope" FROM "Track"');
    out.error = null;
  } catch (e) {
    out.error = { code: e.code, message: e.message };
  }
  const after = await client.query("SELECT 1 AS one");
  out.after_error = after.rows[0].one;
  await client.end();
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
