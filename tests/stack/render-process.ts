// Runs tests/stack/render.ts in a process of its own, as each `pulumi up` runs the program once, and parses what it
// printed: the raw records, or with `snapshot: true` the normalized snapshot.
import { execFile } from "child_process";
import * as path from "path";
import { promisify } from "util";
import type { World } from "./render";

const PROJECT_DIRECTORY = path.join(__dirname, "..", "..");

export async function renderInOwnProcess<T>(world: World): Promise<T> {
    const { stdout } = await promisify(execFile)(
        process.execPath,
        ["--import", "tsx", "tests/stack/render.ts", JSON.stringify(world)],
        { cwd: PROJECT_DIRECTORY, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
    );
    return JSON.parse(stdout) as T;
}
