// Renders the whole program under the mocks in a process of its own and prints every declared resource as JSON
// (type, name, inputs, dependencies): one run of `pulumi up`, as the engine would receive it.
// Usage: node --import tsx tests/stack/render.ts '<world as JSON>'
//   world: { config?: {key: value}, withDatabaseUrl?: boolean, eksClusters?: {name: version}, rdsInstances?: {id: version} }
import { eksClusters, rdsInstances, setStackConfig } from "./mocks";
import { renderProgram } from "../../scripts/render";

export interface World {
    config?: Record<string, string>;
    /** False: no databaseUrl and databaseMode managed (setStackConfig). */
    withDatabaseUrl?: boolean;
    eksClusters?: Record<string, string>;
    rdsInstances?: Record<string, string>;
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
        setStackConfig(world.config ?? {}, world.withDatabaseUrl ?? true);
    });
    process.stdout.write(JSON.stringify(recorded));
}

main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
