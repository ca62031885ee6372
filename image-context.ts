// The build context the Docker provider hashes and sends: a copy of what app/.dockerignore admits, with fixed modes.
import * as fs from "fs";
import * as path from "path";
import { buildContextFiles } from "./build-context";

export const STAGED_CONTEXTS_DIRECTORY = "build/image-context";
const STALE_AFTER_MS = 60 * 60 * 1000;

/** git records only the executable bit; read/write bits follow each machine's umask. */
function normalizedMode(sourceMode: number): number {
    return sourceMode & 0o111 ? 0o755 : 0o644;
}

function makeDirectories(root: string, relativeDirectory: string): void {
    let current = root;
    for (const segment of relativeDirectory.split("/").filter((part) => part !== "" && part !== ".")) {
        current = path.join(current, segment);
        if (!fs.existsSync(current)) {
            fs.mkdirSync(current);
            fs.chmodSync(current, 0o755);
        }
    }
}

function copyInto(sourceDirectory: string, targetDirectory: string, relative: string): void {
    const source = path.join(sourceDirectory, relative);
    const target = path.join(targetDirectory, relative);
    const stat = fs.lstatSync(source);
    if (stat.isSymbolicLink()) {
        fs.symlinkSync(fs.readlinkSync(source), target);
        return;
    }
    fs.copyFileSync(source, target);
    // After the copy: a mode given at creation is narrowed by the umask.
    fs.chmodSync(target, normalizedMode(stat.mode));
}

function removeStaleContexts(root: string, keep: string): void {
    const now = Date.now();
    for (const entry of fs.readdirSync(root)) {
        const entryPath = path.join(root, entry);
        if (entry !== keep && now - fs.statSync(entryPath).mtimeMs > STALE_AFTER_MS) {
            fs.rmSync(entryPath, { recursive: true, force: true });
        }
    }
}

/**
 * The relative path of a copy of the build context with modes 0644/0755, renamed into place whole so that concurrent
 * runs of the same sources share one complete copy.
 */
export function stageBuildContext(appDirectory: string, tag: string, root = STAGED_CONTEXTS_DIRECTORY): string {
    const target = path.posix.join(root, tag);
    fs.mkdirSync(root, { recursive: true });
    if (!fs.existsSync(target)) {
        const staging = fs.mkdtempSync(path.join(root, `.${tag}-`));
        const extras = ["Dockerfile", ".dockerignore"].filter((name) => fs.existsSync(path.join(appDirectory, name)));
        for (const relative of new Set([...buildContextFiles(appDirectory), ...extras])) {
            makeDirectories(staging, path.posix.dirname(relative));
            copyInto(appDirectory, staging, relative);
        }
        fs.chmodSync(staging, 0o755);
        try {
            fs.renameSync(staging, target);
        } catch (error) {
            fs.rmSync(staging, { recursive: true, force: true });
            if (!fs.existsSync(target)) {
                throw error;
            }
        }
    }
    const now = new Date();
    fs.utimesSync(target, now, now);
    removeStaleContexts(root, tag);
    return target;
}
