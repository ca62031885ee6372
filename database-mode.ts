import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { ConfigError } from "./config-error";

export type Mode = "managed" | "external";

/** What AWS runs for this stack today, as far as the database is concerned. */
export interface DeployedDatabase {
    /** Undefined: nothing of the stack is deployed (no EKS cluster), so any mode may be chosen. */
    mode: Mode | undefined;
    /** The managed instance's engine version ("15.8"), when there is one. */
    engineVersion: string | undefined;
}

/**
 * Reads the deployed mode from AWS, as the program reads the running Kubernetes version: the stack's RDS instance
 * exists (managed), or the stack's cluster does without it (external). A program cannot read its own stack's
 * outputs, and a record kept in a resource would be written only after the check it is meant to feed.
 */
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
    /** The confirmation the stack's owner set: databaseModeSwitch. */
    confirmed: string | undefined;
    deployed: DeployedDatabase;
    instanceIdentifier: string;
    /** The PostgreSQL major asked for in managed mode. */
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

/**
 * Refuses a change of databaseMode on a deployed stack unless databaseModeSwitch names exactly that change, and a
 * PostgreSQL major below the running one. Returns warnings (a confirmation left set that confirms nothing).
 */
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
