// Renders the whole program under the mocks in a process of its own and prints every declared resource as JSON
// (type, name, inputs, dependencies): one run of `pulumi up`, as the engine would receive it.
// Usage: node --import tsx tests/stack/render.ts '<world as JSON>'
//   world: { config?: {key: value}, ecrImages?: {repository: [{imageTag, imageDigest}]}, eksClusters?: {name: version} }
import { ecrImages, eksClusters, setStackConfig } from "./mocks";
import { renderProgram } from "../../scripts/render";

interface World {
    config?: Record<string, string>;
    ecrImages?: Record<string, { imageTag: string; imageDigest: string }[]>;
    eksClusters?: Record<string, string>;
}

async function main(): Promise<void> {
    const world = JSON.parse(process.argv[2] ?? "{}") as World;
    const recorded = await renderProgram(() => {
        for (const [repository, images] of Object.entries(world.ecrImages ?? {})) {
            ecrImages.set(repository, images);
        }
        for (const [cluster, version] of Object.entries(world.eksClusters ?? {})) {
            eksClusters.set(cluster, version);
        }
        setStackConfig(world.config ?? {});
    });
    process.stdout.write(JSON.stringify(recorded));
}

main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
