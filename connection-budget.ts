// The connection budget of docs/deploying.md#connection-budget: every connection the service can open at once.
/** The service's pools (app/src/fastapi_app/settings.py): a steady request pool and a readiness pool per pod. */
export const DB_POOL_SIZE = 5;
export const DB_MAX_OVERFLOW = 0;
export const READINESS_POOL_SIZE = 1;
/** The migration Job's one connection. */
export const MIGRATION_CONNECTIONS = 1;
/** The extra pod of a rolling update (the Deployment's maxSurge). */
export const ROLLOUT_SURGE = 1;
/** The share of max_connections the service may take; the rest is for operators and monitoring. */
export const BUDGET_SHARE = 0.8;
/**
 * The floor of max_connections on every instance class. RDS's own default, DBInstanceClassMemory/9531392, comes
 * out below 100 on the 1 GiB classes (db.t4g.micro), where the service's pools at the HPA maximum need 78; larger
 * classes keep their larger default.
 */
export const MIN_MAX_CONNECTIONS = 100;
/** RDS for PostgreSQL's default max_connections is DBInstanceClassMemory divided by this. */
const BYTES_PER_CONNECTION = 9531392;
/** DBInstanceClassMemory is the class's memory less what the OS and RDS keep; three quarters errs low. */
const USABLE_MEMORY_SHARE = 0.75;

const CONNECTIONS_PER_POD = DB_POOL_SIZE + DB_MAX_OVERFLOW + READINESS_POOL_SIZE;

/** Connections at the HPA maximum during a rolling update, with the migration Job running. */
export function connectionBudget(maxReplicas: number): number {
    return (maxReplicas + ROLLOUT_SURGE) * CONNECTIONS_PER_POD + MIGRATION_CONNECTIONS;
}

/** The largest HPA maximum whose budget stays within BUDGET_SHARE of `maxConnections`. */
export function maxReplicasWithin(maxConnections: number): number {
    return Math.floor((BUDGET_SHARE * maxConnections - MIGRATION_CONNECTIONS) / CONNECTIONS_PER_POD) - ROLLOUT_SURGE;
}

/** GiB of memory per size of the burstable (t), general-purpose (m) and memory-optimised (r) RDS classes. */
function classMemoryGib(instanceClass: string): number | undefined {
    const match = /^db\.([tmr])\d+[a-z]*\.(micro|small|medium|large|(\d*)xlarge)$/.exec(instanceClass);
    if (!match) {
        return undefined;
    }
    const [, family, size, multiple] = match;
    const burstable: Record<string, number> = { micro: 1, small: 2, medium: 4, large: 8 };
    if (size in burstable) {
        return family === "t" ? burstable[size] : size === "large" ? (family === "r" ? 16 : 8) : undefined;
    }
    const xlarge = family === "r" ? 32 : 16;
    return xlarge * (multiple === "" ? 1 : Number(multiple));
}

/**
 * The managed instance's max_connections as the stack's parameter group sets it, GREATEST(default, the floor), with
 * the default estimated low from the class's memory; the floor alone for a class whose memory is not known here.
 */
export function managedMaxConnections(instanceClass: string): number {
    const gib = classMemoryGib(instanceClass);
    const estimate = gib === undefined ? 0 : Math.floor((gib * 2 ** 30 * USABLE_MEMORY_SHARE) / BYTES_PER_CONNECTION);
    return Math.max(MIN_MAX_CONNECTIONS, estimate);
}
