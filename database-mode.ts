import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { ConfigError } from "./config-error";

export type Mode = "managed" | "external";

export interface DeployedDatabase {
    /** Undefined: no cluster of the stack either, so any mode may be chosen. */
    mode: Mode | undefined;
    /** "15.8", when the managed instance exists. */
    engineVersion: string | undefined;
}

/** From AWS: a program cannot read its own stack's outputs (docs/configuration.md#database-settings). */
export async function deployedDatabase(
    instanceIdentifier: string,
    clusterName: string,
    parent?: pulumi.Resource,
): Promise<DeployedDatabase> {
    const { instanceIdentifiers } = await aws.rds.getInstances(
        { filters: [{ name: "db-instance-id", values: [instanceIdentifier] }] },
        { parent },
    );
    if (instanceIdentifiers.includes(instanceIdentifier)) {
        const instance = await aws.rds.getInstance({ dbInstanceIdentifier: instanceIdentifier }, { parent });
        return { mode: "managed", engineVersion: instance.engineVersion };
    }
    const { names } = await aws.eks.getClusters({}, { parent });
    return { mode: names.includes(clusterName) ? "external" : undefined, engineVersion: undefined };
}

export interface ModeCheck {
    requested: Mode;
    /** databaseModeSwitch. */
    confirmed: string | undefined;
    deployed: DeployedDatabase;
    instanceIdentifier: string;
    postgresVersion?: string;
}

function switchName(from: Mode, to: Mode): string {
    return `${from}-to-${to}`;
}

const CONSEQUENCES: Record<string, (identifier: string) => string> = {
    "external-to-managed": (identifier) =>
        `it would create an empty RDS instance ${identifier} (with its subnet group, parameter group, security group and isolated subnets), run the migrations on it and point the service at it; the data in the external database is not copied`,
    "managed-to-external": (identifier) =>
        `it would delete the RDS instance ${identifier} (a final snapshot is taken when databaseFinalSnapshot is true) with its parameter group, subnet group, security group and log group, and point the service at databaseUrl; release its protection first (databaseDeletionProtection false, pulumi up)`,
};

/** Refuses an unconfirmed mode switch and a PostgreSQL downgrade; warns of a confirmation that confirms nothing. */
export function checkDatabaseMode(check: ModeCheck): string[] {
    const { requested, confirmed, deployed, instanceIdentifier } = check;
    const warnings: string[] = [];
    if (deployed.mode !== undefined && deployed.mode !== requested) {
        const wanted = switchName(deployed.mode, requested);
        if (confirmed !== wanted) {
            throw new ConfigError(
                "databaseMode",
                `the deployed stack runs the ${deployed.mode} database and this update asks for ${requested}: ${CONSEQUENCES[wanted](instanceIdentifier)}. To do this on purpose: pulumi config set databaseModeSwitch ${wanted} (see docs/operating.md#switch-the-database-mode); to keep the database: pulumi config set databaseMode ${deployed.mode}`,
            );
        }
    } else if (confirmed !== undefined) {
        warnings.push(
            `databaseModeSwitch ${confirmed} confirms no change (the stack ${deployed.mode === undefined ? "is not deployed" : `runs the ${deployed.mode} database`}); remove it: pulumi config rm databaseModeSwitch`,
        );
    }
    if (requested === "managed" && deployed.engineVersion !== undefined && check.postgresVersion !== undefined) {
        const running = Number(deployed.engineVersion.split(".")[0]);
        if (Number(check.postgresVersion) < running) {
            throw new ConfigError(
                "databasePostgresVersion",
                `the instance ${instanceIdentifier} runs PostgreSQL ${deployed.engineVersion}; RDS cannot downgrade to ${check.postgresVersion}. Set ${running} (or a later major)`,
            );
        }
    }
    return warnings;
}
