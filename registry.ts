import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import { contentHash } from "./build-context";

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
                policy: JSON.stringify(lifecyclePolicy(args.keepImages)),
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
