import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as dockerBuild from "@pulumi/docker-build";
import { contentHash } from "./build-context";
import { stageBuildContext } from "./image-context";

export interface RegistryArgs {
    readonly repositoryName: string;
    /** Relative to the project directory, so the state is the same from every checkout. */
    readonly appDirectory: string;
    readonly platform: string;
    /** Deploy this image (by digest) instead of building appDirectory: the rollback path. */
    readonly existingImage?: string;
    /** Images kept in the repository; older ones are expired. */
    readonly keepImages: number;
    readonly tags?: Record<string, string>;
}

export function lifecyclePolicy(keepImages: number): aws.ecr.LifecyclePolicyDocument {
    return {
        rules: [
            {
                rulePriority: 1,
                description: `Keep the last ${keepImages} images`,
                selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: keepImages },
                action: { type: "expire" },
            },
        ],
    };
}

/** The ECR repository and the image the workload runs, as repository@sha256:digest. */
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
                policy: JSON.stringify(lifecyclePolicy(args.keepImages)),
            },
            { parent: this },
        );

        this.repositoryUrl = repository.repositoryUrl;
        this.image =
            args.existingImage !== undefined ? pulumi.output(args.existingImage) : this.imageOf(name, repository, args);
        this.registerOutputs({ repositoryUrl: this.repositoryUrl, image: this.image });
    }

    /** Built and pushed under the sources' content tag: docs/service.md#how-the-image-reaches-ecr. */
    private imageOf(name: string, repository: aws.ecr.Repository, args: RegistryArgs): pulumi.Output<string> {
        const tag = contentHash(args.appDirectory, args.platform);
        const registryHost = repository.repositoryUrl.apply((url) => url.split("/")[0]);
        const login = aws.ecr.getAuthorizationTokenOutput({ registryId: repository.registryId }, { parent: this });
        const image = new dockerBuild.Image(
            `${name}-image`,
            {
                context: { location: stageBuildContext(args.appDirectory, tag) },
                platforms: [args.platform as dockerBuild.Platform],
                tags: [pulumi.interpolate`${repository.repositoryUrl}:${tag}`],
                push: true,
                buildOnPreview: false,
                // A fresh token every run: the provider's diff ignores the password.
                registries: [
                    { address: registryHost, username: login.userName, password: pulumi.secret(login.password) },
                ],
            },
            // Rollback images stay in ECR: the provider's delete would remove the pushed digest.
            { parent: this, retainOnDelete: true },
        );
        const pushed = aws.ecr.getImagesOutput(
            { repositoryName: repository.name },
            { parent: this, dependsOn: [image] },
        );
        return pulumi
            .all([repository.repositoryUrl, image.digest, pushed.imageIds, image.urn])
            .apply(([repositoryUrl, digest, imageIds, urn]) => {
                checkImageInRegistry({
                    repositoryUrl,
                    digest,
                    tag,
                    urn,
                    pushedDigests: imageIds.map((id) => id.imageDigest),
                });
                return `${repositoryUrl}@${digest}`;
            });
    }
}

export interface ImageInRegistry {
    readonly repositoryUrl: string;
    readonly digest: string;
    readonly tag: string;
    readonly urn: string;
    readonly pushedDigests: readonly string[];
}

/** A person or the lifecycle rule may have removed the deployed image; pods could then not pull it. */
export function checkImageInRegistry(image: ImageInRegistry): void {
    if (!image.pushedDigests.includes(image.digest)) {
        throw new pulumi.RunError(
            `ECR no longer holds ${image.repositoryUrl}@${image.digest} (tag ${image.tag}), the image this stack ` +
                `deploys. Push it again: pulumi up --replace '${image.urn}' (or pulumi refresh, then pulumi up).`,
        );
    }
}
