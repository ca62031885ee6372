import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as docker from "@pulumi/docker";

export interface RegistryArgs {
    repositoryName: string;
    /** Build context of the service image; its content hash becomes the image tag. */
    appDirectory: string;
    platform: string;
    /** Deploy this image (by digest) instead of building appDirectory: the rollback path. */
    existingImage?: string;
    /** Images kept in the repository; older ones are expired. */
    keepImages: number;
    tags?: Record<string, string>;
}

// Local caches and environments that never reach the image; they must not change its tag either.
const NOT_IN_IMAGE = new Set([".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "htmlcov", "build", ".coverage"]);

function filesOf(directory: string): string[] {
    return fs.readdirSync(directory, { withFileTypes: true })
        .filter((entry) => !NOT_IN_IMAGE.has(entry.name) && !entry.name.endsWith(".pyc") && !entry.name.endsWith(".egg-info"))
        .flatMap((entry) => {
            const full = path.join(directory, entry.name);
            return entry.isDirectory() ? filesOf(full) : [full];
        })
        .sort();
}

/** A short SHA-256 over the relative paths and contents of every file that can reach the image. */
export function contentHash(directory: string): string {
    const hash = createHash("sha256");
    for (const file of filesOf(directory)) {
        hash.update(path.relative(directory, file).split(path.sep).join("/"));
        hash.update("\0");
        hash.update(fs.readFileSync(file));
        hash.update("\0");
    }
    return hash.digest("hex").slice(0, 16);
}

export function lifecyclePolicy(keepImages: number): string {
    return JSON.stringify({
        rules: [{
            rulePriority: 1,
            description: `Keep the last ${keepImages} images`,
            selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: keepImages },
            action: { type: "expire" },
        }],
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

        const repository = new aws.ecr.Repository(name, {
            name: args.repositoryName,
            imageScanningConfiguration: { scanOnPush: true },
            imageTagMutability: "IMMUTABLE",
            encryptionConfigurations: [{ encryptionType: "AES256" }],
            // Teardown must not stop at a repository that still holds images.
            forceDelete: true,
            tags: args.tags,
        }, { parent: this });

        new aws.ecr.LifecyclePolicy(name, {
            repository: repository.name,
            policy: lifecyclePolicy(args.keepImages),
        }, { parent: this });

        this.repositoryUrl = repository.repositoryUrl;
        this.image = args.existingImage !== undefined
            ? pulumi.output(args.existingImage)
            : this.build(name, repository, args).repoDigest;
        this.registerOutputs({ repositoryUrl: this.repositoryUrl, image: this.image });
    }

    private build(name: string, repository: aws.ecr.Repository, args: RegistryArgs): docker.Image {
        const credentials = aws.ecr.getAuthorizationTokenOutput({ registryId: repository.registryId }, { parent: this });
        return new docker.Image(name, {
            // Tags are immutable in the repository, so the tag is the content: same sources, same tag, no push.
            imageName: pulumi.interpolate`${repository.repositoryUrl}:${contentHash(args.appDirectory)}`,
            build: {
                context: args.appDirectory,
                dockerfile: path.join(args.appDirectory, "Dockerfile"),
                platform: args.platform,
            },
            registry: {
                server: repository.repositoryUrl,
                username: credentials.userName,
                password: pulumi.secret(credentials.password),
            },
        }, { parent: this });
    }
}
