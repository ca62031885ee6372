// The image's build context as the Docker build provider sees it: a staged copy whose file modes do not depend on the
// umask of the checkout, and a whole-program run that stops when ECR lost the deployed image.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildContextFiles } from "../../build-context";
import { stageBuildContext } from "../../image-context";
import { FAKE_DIGEST } from "./mocks";
import { renderInOwnProcess } from "./render-process";

const APP_FILES: Record<string, string> = {
    ".dockerignore": "*\n!src/\n!requirements.txt\n**/__pycache__\n",
    Dockerfile: "FROM scratch\nCOPY . /app\n",
    "requirements.txt": "fastapi\n",
    "src/app/main.py": "a = 1\n",
    "src/app/run.sh": "#!/bin/sh\n",
    "src/app/__pycache__/main.pyc": "bytecode",
    "tests/test_main.py": "def test(): pass\n",
};

/** A checkout of APP_FILES made under `umask`, as git writes files: 0666 or 0777 (run.sh), narrowed by the umask. */
function withUmask<T>(umask: number, run: () => T): T {
    const previous = process.umask(umask);
    try {
        return run();
    } finally {
        process.umask(previous);
    }
}

function checkout(umask: number): string {
    return withUmask(umask, () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "image-context-"));
        for (const [name, content] of Object.entries(APP_FILES)) {
            fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
            fs.writeFileSync(path.join(dir, name), content, { mode: name.endsWith(".sh") ? 0o777 : 0o666 });
        }
        return dir;
    });
}

function stageUnder(umask: number, dir: string): string {
    return withUmask(umask, () =>
        stageBuildContext(dir, "0123456789abcdef", fs.mkdtempSync(path.join(os.tmpdir(), "staged-"))),
    );
}

/** What the provider's context digest covers per file: contents, path and Go's FileMode string (context.go, hashFile). */
function providerView(root: string): string[] {
    const files = (relative: string): string[] =>
        fs.readdirSync(path.join(root, relative), { withFileTypes: true }).flatMap((entry) => {
            const child = path.posix.join(relative, entry.name);
            return entry.isDirectory() ? files(child) : [child];
        });
    return files("")
        .sort()
        .map((relative) => {
            const full = path.join(root, relative);
            const mode = (fs.statSync(full).mode & 0o777).toString(8);
            return `${relative} ${mode} ${createHash("sha256").update(fs.readFileSync(full)).digest("hex")}`;
        });
}

describe("staged build context", () => {
    test("a laptop with umask 002 and CI with 022 stage the same files with the same modes", () => {
        const [laptop, ci] = [checkout(0o002), checkout(0o022)];
        assert.notDeepEqual(providerView(laptop), providerView(ci), "the checkouts themselves differ in mode");
        assert.deepEqual(providerView(stageUnder(0o002, laptop)), providerView(stageUnder(0o022, ci)));
    });
    test("holds what the ignore file admits, the Dockerfile and the ignore file, with modes 0644 and 0755", () => {
        const dir = checkout(0o002);
        const staged = stageUnder(0o002, dir);
        assert.deepEqual(buildContextFiles(dir), ["requirements.txt", "src/app/main.py", "src/app/run.sh"]);
        assert.deepEqual(
            providerView(staged).map((line) => line.split(" ").slice(0, 2).join(" ")),
            [
                ".dockerignore 644",
                "Dockerfile 644",
                "requirements.txt 644",
                "src/app/main.py 644",
                "src/app/run.sh 755",
            ],
        );
        for (const directory of [staged, path.join(staged, "src"), path.join(staged, "src", "app")]) {
            assert.equal((fs.statSync(directory).mode & 0o777).toString(8), "755", directory);
        }
    });
    test("the copy is named by the tag; a second run reuses it", () => {
        const dir = checkout(0o022);
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "staged-"));
        const first = stageBuildContext(dir, "00aa", root);
        assert.equal(first, path.posix.join(root, "00aa"));
        fs.writeFileSync(path.join(dir, "src", "app", "main.py"), "a = 2\n");
        assert.equal(stageBuildContext(dir, "00aa", root), first);
        assert.equal(fs.readFileSync(path.join(first, "src", "app", "main.py"), "utf8"), "a = 1\n");
    });
    test("copies of other tags older than an hour are removed; recent ones stay", () => {
        const dir = checkout(0o022);
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "staged-"));
        const old = stageBuildContext(dir, "old", root);
        const recent = stageBuildContext(dir, "recent", root);
        const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
        fs.utimesSync(old, twoHoursAgo, twoHoursAgo);
        stageBuildContext(dir, "current", root);
        assert.deepEqual(fs.readdirSync(root).sort(), ["current", "recent"]);
        assert.equal(fs.existsSync(recent), true);
    });
});

describe("a pulumi up whose image ECR no longer holds", () => {
    test("stops with the digest and the command that pushes it again", async () => {
        await assert.rejects(renderInOwnProcess({ ecrImageDigests: [] }), (error: Error) => {
            assert.match(error.message, new RegExp(`ECR no longer holds \\S+/fastapi-app@${FAKE_DIGEST}`));
            assert.match(error.message, /pulumi up --replace '\S+docker-build:index:Image::fastapi-app-image'/);
            return true;
        });
    });
    test("runs when ECR holds it", async () => {
        const resources = await renderInOwnProcess<unknown[]>({ ecrImageDigests: [FAKE_DIGEST] });
        assert.ok(resources.length > 0);
    });
});
