// The database helpers every request goes through: statements compiled once, and the one kind of
// commit that does not wait for the disk leaving every other commit durable.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Db, openDatabase, statement, unsynced } from "../../src/server/db.js";
import { tempDataDir } from "../helpers/server.js";

const FULL = 2;
const opened: Db[] = [];
async function database(): Promise<Db> {
  const db = openDatabase(join(await tempDataDir(), "acontext.db"));
  opened.push(db);
  return db;
}
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

describe("database helpers", () => {
  it("statement() compiles a query once per database", async () => {
    const [one, two] = [await database(), await database()];
    const sql = "SELECT value FROM settings WHERE key = ?";
    expect(statement(one, sql)).toBe(statement(one, sql));
    expect(statement(two, sql)).not.toBe(statement(one, sql));
    expect(statement(one, "SELECT 1 AS one").get()).toEqual({ one: 1 });
  });

  it("unsynced() commits its writes and puts synchronous FULL back, also when the write throws (and is rolled back)", async () => {
    const db = await database();
    expect(db.pragma("synchronous", { simple: true })).toBe(FULL);
    unsynced(db, () => db.prepare("INSERT INTO settings (key, value) VALUES ('a', '1')").run());
    expect(db.pragma("synchronous", { simple: true })).toBe(FULL);
    expect(() =>
      unsynced(db, () => {
        db.prepare("INSERT INTO settings (key, value) VALUES ('b', '2')").run();
        throw new Error("midway");
      }),
    ).toThrow("midway");
    expect(db.pragma("synchronous", { simple: true })).toBe(FULL);
    expect(db.prepare("SELECT key FROM settings WHERE key IN ('a', 'b') ORDER BY key").all()).toEqual([{ key: "a" }]);
  });
});
