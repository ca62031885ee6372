import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";

export interface RegistryArgs {
    repositoryName: string;
    /**
     * Build context of the service image, relative to the project directory (where Pulumi runs the program), so
     * the state is the same from every checkout. The content hash of what it sends to the build is the image tag.
     */
    appDirectory: string;
    platform: string;
    /** Deploy this image (by digest) instead of building appDirectory: the rollback path. */
    existingImage?: string;
    /** Images kept in the repository; older ones are expired. */
    keepImages: number;
    tags?: Record<string, string>;
}

interface IgnoreRule {
    exception: boolean;
    pattern: string;
    regex: RegExp;
}

/** One .dockerignore pattern as a regular expression: `**` spans directories, `*` and `?` stay within one. */
function patternRegex(pattern: string): RegExp {
    if (/[[\\]/.test(pattern)) {
        throw new Error(
            `.dockerignore pattern "${pattern}": character classes and escapes are not supported by the image tag hash`,
        );
    }
    let source = "";
    for (let i = 0; i < pattern.length; i++) {
        if (pattern.startsWith("**/", i)) {
            source += "(?:.*/)?";
            i += 2;
        } else if (pattern.startsWith("**", i)) {
            source += ".*";
            i += 1;
        } else if (pattern[i] === "*") {
            source += "[^/]*";
        } else if (pattern[i] === "?") {
            source += "[^/]";
        } else {
            source += pattern[i].replace(/[.+^${}()|]/g, "\\$&");
        }
    }
    return new RegExp(`^${source}$`);
}

/** The rules of a .dockerignore file, in order: blank lines and comments skipped, `!` marks an exception. */
export function parseDockerignore(text: string): IgnoreRule[] {
    return text
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.startsWith("#"))
        .map((line) => {
            const exception = line.startsWith("!");
            const pattern = path.posix
                .normalize((exception ? line.slice(1) : line).trim())
                .replace(/^\/+/, "")
                .replace(/\/+$/, "");
            return { exception, pattern, regex: patternRegex(pattern) };
        });
}

/** Docker's rule: the last pattern matching the path or one of its parent directories decides. */
function isIgnored(rules: IgnoreRule[], relativePath: string): boolean {
    const segments = relativePath.split("/");
    const pathAndParents = segments.map((_, index) => segments.slice(0, index + 1).join("/"));
    let ignored = false;
    for (const rule of rules) {
        if (pathAndParents.some((candidate) => rule.regex.test(candidate))) {
            ignored = !rule.exception;
        }
    }
    return ignored;
}

/** An ignored directory is skipped unless an exception could re-admit something inside it. */
function mayHoldAdmittedFiles(rules: IgnoreRule[], relativeDirectory: string): boolean {
    return rules.some(
        (rule) =>
            rule.exception &&
            (rule.pattern.startsWith(`${relativeDirectory}/`) || /[*?]/.test(rule.pattern.split("/")[0])),
    );
}

/** Relative paths (with `/`) of the files the build context admits, sorted. */
export function buildContextFiles(directory: string): string[] {
    const ignoreFile = path.join(directory, ".dockerignore");
    const rules = fs.existsSync(ignoreFile) ? parseDockerignore(fs.readFileSync(ignoreFile, "utf8")) : [];
    const walk = (relativeDirectory: string): string[] =>
        fs.readdirSync(path.join(directory, relativeDirectory), { withFileTypes: true }).flatMap((entry) => {
            const relative = relativeDirectory === "" ? entry.name : `${relativeDirectory}/${entry.name}`;
            if (entry.isDirectory()) {
                return !isIgnored(rules, relative) || mayHoldAdmittedFiles(rules, relative) ? walk(relative) : [];
            }
            return isIgnored(rules, relative) ? [] : [relative];
        });
    return walk("").sort();
}

/**
 * A short SHA-256 over the Dockerfile and the relative paths, executable bits and contents of exactly the files the
 * build context admits (app/.dockerignore honoured): test runs, local caches and tools outside the image never change
 * the tag, and a laptop and CI agree on it for the same commit. Of the mode, only the executable bits count: they
 * are copied into the image (and git records them), while read/write bits follow each machine's umask.
 */
export function contentHash(directory: string): string {
    const hash = createHash("sha256");
    hash.update(fs.readFileSync(path.join(directory, "Dockerfile")));
    hash.update("\0");
    for (const relative of buildContextFiles(directory)) {
        const file = path.join(directory, relative);
        const stat = fs.lstatSync(file);
        hash.update(relative);
        hash.update("\0");
        hash.update((stat.mode & 0o111).toString(8));
        hash.update("\0");
        hash.update(stat.isSymbolicLink() ? fs.readlinkSync(file) : fs.readFileSync(file));
        hash.update("\0");
    }
    return hash.digest("hex").slice(0, 16);
}

export function lifecyclePolicy(keepImages: number): string {
    return JSON.stringify({
        rules: [
            {
                rulePriority: 1,
                description: `Keep the last ${keepImages} images`,
                selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: keepImages },
                action: { type: "expire" },
            },
        ],
    });
}

/**
 * The ECR repository and the image the workload runs. Consumers get `image` as repository@sha256:digest,
 * so a pod never runs anything but the exact bytes that were built and scanned.
 */
export class Registry extends pulumi.ComponentResource {
    public readonly repositoryUrl: pulumi.Output<string>;
    public readonly image: pulumi.Output<string>;

    constructor(name: string, args: RegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fastapi:index:Registry", name, {}, opts);

        const repository = new aws.ecr.Repository(
            name,
            {
                name: args.repositoryName,
                imageScanningConfiguration: { scanOnPush: true },
                imageTagMutability: "IMMUTABLE",
                encryptionConfigurations: [{ encryptionType: "AES256" }],
                // Teardown must not stop at a repository that still holds images.
                forceDelete: true,
                tags: args.tags,
            },
            { parent: this },
        );

        new aws.ecr.LifecyclePolicy(
            name,
            {
                repository: repository.name,
                policy: lifecyclePolicy(args.keepImages),
            },
            { parent: this },
        );

        this.repositoryUrl = repository.repositoryUrl;
        this.image =
            args.existingImage !== undefined ? pulumi.output(args.existingImage) : this.imageOf(name, repository, args);
        this.registerOutputs({ repositoryUrl: this.repositoryUrl, image: this.image });
    }

    /**
     * The image of the current sources by digest. The tag is their content hash, and a command puts it in ECR
     * (scripts/push-image): built and pushed when the repository lacks it, used as it is when the repository holds
     * it already (an immutable repository refuses a second push of a tag). The resource's inputs are the tag and
     * constant settings only, so an unchanged commit declares exactly what the state holds, from any checkout: the
     * next `pulumi up` changes nothing and `pulumi preview --expect-no-changes` passes. No registry credential is
     * an input, so none is in the state.
     */
    private imageOf(name: string, repository: aws.ecr.Repository, args: RegistryArgs): pulumi.Output<string> {
        const tag = contentHash(args.appDirectory);
        const push = new command.local.Command(
            `${name}-image`,
            {
                // Relative, like the build context: Pulumi runs the program and its commands from the project directory.
                create: "bash scripts/push-image",
                environment: {
                    IMAGE_REPOSITORY: repository.repositoryUrl,
                    IMAGE_TAG: tag,
                    BUILD_CONTEXT: args.appDirectory,
                    PLATFORM: args.platform,
                },
                // A new tag runs the script again (the create command doubles as the update); its stdout is the image.
                addPreviousOutputInEnv: false,
            },
            { parent: this },
        );
        return push.stdout.apply((stdout) => stdout.trim());
    }
}
