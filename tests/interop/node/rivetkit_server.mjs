// The real RivetKit 2.3.19 server (local engine), serving the same actors as tests/server/actors.py
// for the Python client's interop tests. Storage root: $RIVETKIT_STORAGE_PATH.
import { actor, queue, setup, UserError } from "rivetkit";
import { workflow } from "rivetkit/workflow";

export const counter = actor({
	state: { count: 0 },
	actions: {
		increment: (c, amount) => {
			c.state.count += amount;
			c.broadcast("newCount", c.state.count);
			return c.state.count;
		},
		getCount: (c) => c.state.count,
		echo: (_c, value) => value,
		failUser: () => {
			throw new UserError("not allowed", { code: "forbidden_thing", metadata: { why: "test" } });
		},
		whoami: (c) => c.conn?.params ?? null,
	},
});

export const requestResponseActor = actor({
	state: { handled: 0 },
	queues: { requests: queue(), parked: queue() },
	run: workflow(async (ctx) => {
		await ctx.loop("request-loop", async (loopCtx) => {
			const message = await loopCtx.queue.next("wait-request", { names: ["requests"], completable: true });
			if (!message.complete) return;
			const doubled = await loopCtx.step("handle-request", async (step) => {
				step.state.handled += 1;
				return message.body.value * 2;
			});
			await message.complete({ doubled });
		});
	}),
	actions: { getState: (c) => c.state },
});

export const registry = setup({ use: { counter, requestResponseActor } });
registry.start();
