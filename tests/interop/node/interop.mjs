// Drives a server with the official RivetKit client (rivetkit/client, pinned in package-lock.json).
// Usage: node interop.mjs ENDPOINT ENCODING KEY_PREFIX
// Prints one JSON object with every observed result; exits 1 on any failure.
import { createClient } from "rivetkit/client";

const [endpoint, encoding, prefix] = process.argv.slice(2);
const client = createClient({ endpoint, encoding });
const out = { encoding };

function withTimeout(promise, ms, what) {
	return Promise.race([
		promise,
		new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout: ${what}`)), ms)),
	]);
}

try {
	const counter = client.counter.getOrCreate([`${prefix}-counter`]);
	out.increment = await counter.increment(5);
	out.increment2 = await counter.increment(2);
	out.getCount = await counter.getCount();
	out.echo = await counter.echo({ nested: [1, "two", null, true], n: 1.5 });

	try {
		await counter.failUser();
		out.userError = "no error";
	} catch (err) {
		out.userError = { group: err.group, code: err.code, message: err.message, metadata: err.metadata };
	}
	try {
		await counter.failInternal();
		out.internalError = "no error";
	} catch (err) {
		out.internalError = { group: err.group, code: err.code, message: err.message };
	}

	const rr = client.requestResponseActor.getOrCreate([`${prefix}-rr`]);
	out.sendNoWait = await rr.send("requests", { value: 1 });
	out.sendWait = await rr.send("requests", { value: 21 }, { wait: true, timeout: 5000 });
	out.sendTimedOut = await rr.send("parked", 7, { wait: true, timeout: 50 });
	out.rrState = await rr.getState();

	const conn = counter.connect();
	const events = [];
	conn.on("newCount", (value) => events.push(value));
	out.wsIncrement = await withTimeout(conn.increment(1), 10000, "ws increment");
	out.wsIncrement2 = await withTimeout(conn.increment(10), 10000, "ws increment 2");
	try {
		await withTimeout(conn.failUser(), 10000, "ws failUser");
		out.wsUserError = "no error";
	} catch (err) {
		out.wsUserError = { group: err.group, code: err.code, message: err.message };
	}
	// Events are delivered before the action's response on the same socket.
	out.events = events;
	await conn.dispose();

	const id = await counter.resolve();
	out.resolvedId = id;
	out.byId = await client.counter.getForId(id).getCount();
	console.log(JSON.stringify(out));
	process.exit(0);
} catch (err) {
	out.failure = String(err && err.stack ? err.stack : err);
	console.log(JSON.stringify(out));
	process.exit(1);
}
