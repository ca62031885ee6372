// Links and anchors checked by remark-validate-links, run over a set of files by unified-engine as remark-cli
// does: only the engine lets the plugin check anchors in other files; anchors use GitHub's slugger.
import * as path from "node:path";
import { PassThrough } from "node:stream";
import { remark } from "remark";
import remarkGfm from "remark-gfm";
import remarkValidateLinks from "remark-validate-links";
import { engine } from "unified-engine";
import type { Problem } from "./markdown";

// unified's Plugin type takes `unknown` options; the engine hands the plugin its options and the file set.
type EnginePlugin = Extract<NonNullable<Parameters<typeof engine>[0]["plugins"]>, unknown[]>[number];

/**
 * Every relative link to a missing file and every `#anchor` no heading of its target produces, in `files` (paths
 * relative to `root`); files they link to are read too.
 */
export function brokenLinks(root: string, files: string[]): Promise<Problem[]> {
    return new Promise((resolve, reject) => {
        engine(
            {
                processor: remark().use(remarkGfm),
                cwd: root,
                files,
                extensions: ["md"],
                plugins: [[remarkValidateLinks, { repository: false, root }] as EnginePlugin],
                detectConfig: false,
                detectIgnore: false,
                silent: true,
                out: false,
                output: false,
                streamOut: new PassThrough(),
                streamError: new PassThrough(),
            },
            (error, _code, context) => {
                if (error || context === undefined) {
                    reject(error ?? new Error("unified-engine returned no context"));
                    return;
                }
                const problems = context.files.flatMap((file) =>
                    file.messages.map((message) => ({
                        file: path.relative(root, path.resolve(root, file.path)).split(path.sep).join("/"),
                        line: message.line ?? 0,
                        message: `${message.reason} (${message.ruleId ?? "?"})`,
                    })),
                );
                resolve(problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line));
            },
        );
    });
}
