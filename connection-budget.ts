// docs/deploying.md#connection-budget
/** As app/src/fastapi_app/settings.py sizes the pools. */
export const DB_POOL_SIZE = 5;
export const DB_MAX_OVERFLOW = 0;
export const READINESS_POOL_SIZE = 1;
export const MIGRATION_CONNECTIONS = 1;
export const ROLLOUT_SURGE = 1;
export const BUDGET_SHARE = 0.8;
export const MIN_MAX_CONNECTIONS = 100;
/** RDS for PostgreSQL's default max_connections: DBInstanceClassMemory / this. */
const BYTES_PER_CONNECTION = 9531392;
/** DBInstanceClassMemory excludes what the OS and RDS keep; three quarters errs low. */
const USABLE_MEMORY_SHARE = 0.75;

const CONNECTIONS_PER_POD = DB_POOL_SIZE + DB_MAX_OVERFLOW + READINESS_POOL_SIZE;

export function connectionBudget(maxReplicas: number): number {
    return (maxReplicas + ROLLOUT_SURGE) * CONNECTIONS_PER_POD + MIGRATION_CONNECTIONS;
}

export function maxReplicasWithin(maxConnections: number): number {
    return Math.floor((BUDGET_SHARE * maxConnections - MIGRATION_CONNECTIONS) / CONNECTIONS_PER_POD) - ROLLOUT_SURGE;
}

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

/** As the parameter group sets it: GREATEST(default estimated low, MIN_MAX_CONNECTIONS). */
export function managedMaxConnections(instanceClass: string): number {
    const gib = classMemoryGib(instanceClass);
    const estimate = gib === undefined ? 0 : Math.floor((gib * 2 ** 30 * USABLE_MEMORY_SHARE) / BYTES_PER_CONNECTION);
    return Math.max(MIN_MAX_CONNECTIONS, estimate);
}
