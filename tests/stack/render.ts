// Renders the whole program under the mocks in a process of its own and prints every declared resource as JSON
// (type, name, inputs, dependencies): one run of `pulumi up`, as the engine would receive it.
// Usage: node --import tsx tests/stack/render.ts '<world as JSON>'
//   world: { config?: {key: value}, eksClusters?: {name: version}, rdsInstances?: {id: version}, ecrImageDigests?: [digest],
//            managedDatabase?: true, snapshot?: true }
import { ecrImageDigests, eksClusters, rdsInstances, setStackConfig } from "./mocks";
import { renderProgram } from "../../scripts/lib/render";
import { snapshot } from "./rendering";

export interface World {
    config?: Record<string, string>;
    eksClusters?: Record<string, string>;
    /** Instances running in the fake RDS, identifier -> engine version. */
    rdsInstances?: Record<string, string>;
    /** The digests ECR holds; by default the one the mocked provider pushes. */
    ecrImageDigests?: string[];
    /** Without databaseUrl: the stack makes its own database. */
    managedDatabase?: boolean;
    /** Print the normalized snapshot (tests/stack/rendering.ts) instead of the raw records. */
    snapshot?: boolean;
}

async function main(): Promise<void> {
    const world = JSON.parse(process.argv[2] ?? "{}") as World;
    const recorded = await renderProgram(() => {
        for (const [cluster, version] of Object.entries(world.eksClusters ?? {})) {
            eksClusters.set(cluster, version);
        }
        for (const [identifier, version] of Object.entries(world.rdsInstances ?? {})) {
            rdsInstances.set(identifier, version);
        }
        if (world.ecrImageDigests !== undefined) {
            ecrImageDigests.clear();
            world.ecrImageDigests.forEach((digest) => ecrImageDigests.add(digest));
        }
        setStackConfig(world.config ?? {}, world.managedDatabase !== true);
    });
    process.stdout.write(JSON.stringify(world.snapshot === true ? snapshot() : recorded));
}

main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
